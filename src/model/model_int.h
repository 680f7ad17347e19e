/*
 * model_int.h - helpers shared by the files of the model module only
 * (prices.c, normalise.c and the module's unit test). Not a public interface.
 */
#ifndef TL_MODEL_INT_H
#define TL_MODEL_INT_H

#include "model/model.h"

#include <stdio.h>

/*
 * Parses an unsigned decimal ("12", "0.15", ".5", "3.750") into an integer
 * scaled by 10^scale ("0.01875" at scale 6 is 18750) without going through
 * double. Fraction digits past scale must be zeros. The integer part may not
 * exceed max_int. Returns 0, or:
 *   -1 malformed (empty, sign, exponent, junk), -2 negative,
 *   -3 more fraction digits than scale, -4 larger than max_int.
 * Pure; thread-safe.
 */
int model__parse_decimal(const char *s, size_t n, int scale, int64_t max_int, int64_t *out);

/*
 * Checks normalise.c's static key hash table against its key list: returns -1
 * when it is current, else the first stale slot (or bad key) index. When
 * print_fixed is non-NULL and the table is stale, writes the correct table
 * body there (paste it into key_slots). For the unit test.
 */
int model__check_keys(FILE *print_fixed);

#endif
