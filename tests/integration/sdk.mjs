// sdk.mjs - the official OpenTelemetry JS SDK wired to a tracelamp daemon: a
// tracer provider whose exporter (OTLP/HTTP protobuf or JSON) records every
// export result so tests can assert that the daemon acknowledged the spans.

import { BasicTracerProvider, SimpleSpanProcessor, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { OTLPTraceExporter as ProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { trace, context, SpanKind, SpanStatusCode } from '@opentelemetry/api';

export { trace, context, SpanKind, SpanStatusCode };

// Wraps an exporter and keeps every ExportResult (code 0 = success).
class RecordingExporter {
	constructor(inner) { this.inner = inner; this.results = []; }
	export(spans, cb) {
		this.inner.export(spans, (r) => { this.results.push({ n: spans.length, ...r }); cb(r); });
	}
	forceFlush() { return this.inner.forceFlush ? this.inner.forceFlush() : Promise.resolve(); }
	shutdown() { return this.inner.shutdown(); }
}

// kind: 'proto' | 'json'; processor: 'simple' | 'batch'.
export function makeSdk(daemon, { kind = 'proto', processor = 'simple', tenant, resource = {}, service = 'it-agent' } = {}) {
	const headers = tenant ? { 'X-Tracelamp-Tenant': tenant } : {};
	const opts = { url: `${daemon.otlpUrl}/v1/traces`, headers, timeoutMillis: 10000 };
	const inner = kind === 'proto' ? new ProtoExporter(opts) : new JsonExporter(opts);
	const exporter = new RecordingExporter(inner);
	const proc = processor === 'simple' ? new SimpleSpanProcessor(exporter)
		: new BatchSpanProcessor(exporter, { scheduledDelayMillis: 50, maxExportBatchSize: 512 });
	const provider = new BasicTracerProvider({
		resource: resourceFromAttributes({ 'service.name': service, ...resource }),
		spanProcessors: [proc],
	});
	const tracer = provider.getTracer('it-tracer', '1.2.3');
	return {
		provider, tracer, exporter,
		// Flushes and checks that every export succeeded; returns the span count exported.
		async flush() {
			await provider.forceFlush();
			const bad = exporter.results.filter((r) => r.code !== 0);
			if (bad.length) throw new Error(`export failed: ${bad.map((r) => String(r.error)).join('; ')}`);
			return exporter.results.reduce((a, r) => a + r.n, 0);
		},
		shutdown: () => provider.shutdown(),
	};
}

// Starts a child span of parent with explicit HrTime start.
export function child(tracer, parent, name, options) {
	return tracer.startSpan(name, options, trace.setSpan(context.active(), parent));
}

// ns (BigInt) -> HrTime [seconds, nanos].
export function hr(ns) { return [Number(ns / 1000000000n), Number(ns % 1000000000n)]; }
