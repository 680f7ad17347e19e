# rules.mk - builds the trace-propagation test programs (README.md) against the
# static SDK. Included from the top Makefile; uses its CSTD, WARN, OPT, BUILD
# and SDKLIBS.
PROPDIR := tests/integration/trace-propagation
PROPBINS := $(BUILD)/trace-propagation/orchestrator $(BUILD)/trace-propagation/worker

.PHONY: trace-propagation
trace-propagation: $(PROPBINS)

$(BUILD)/trace-propagation/%: $(PROPDIR)/%.c sdk/include/tracelamp.h $(BUILD)/libtracelamp.a
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(WARN) $(OPT) -Isdk/include -o $@ $< $(BUILD)/libtracelamp.a $(SDKLIBS)
