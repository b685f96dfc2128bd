/**
 * ONNX Runtime (1.29 and later on Linux and macOS) sends usage telemetry to Microsoft by default:
 * it writes `~/.cache/Microsoft/DeveloperTools/.onnxruntime/` (a device id and an event database),
 * a `mat-debug-<pid>.log` in the temporary folder, and uploads events. Its documented switch is the
 * environment variable ORT_DISABLE_TELEMETRY=1, read once when the native library initialises.
 * Imported for its effect, before onnxruntime-node, by every module that loads it.
 */
process.env.ORT_DISABLE_TELEMETRY = '1';
