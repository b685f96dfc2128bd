/**
 * ONNX Runtime (1.29 and later on Linux and macOS) sends usage telemetry to Microsoft by default:
 * it writes `~/.cache/Microsoft/DeveloperTools/.onnxruntime/` (a device id and an event database),
 * a `mat-debug-<pid>.log` in the temporary folder, and uploads events. Its documented switch is the
 * environment variable ORT_DISABLE_TELEMETRY=1, read once when the native library initialises.
 * Imported for its effect, before onnxruntime-node, by every module that loads it, and by the inference
 * pool on the main thread before it starts any thread: a worker thread's `process.env` is a copy, and
 * setting it there does not reach the process environment that the native library reads.
 */
process.env.ORT_DISABLE_TELEMETRY = '1';
