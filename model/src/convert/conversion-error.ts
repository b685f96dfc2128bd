/** Thrown when a TF.js model uses something the converter cannot express in ONNX. */
export class ConversionError extends Error {
  override name = 'ConversionError';
}

/**
 * An error about one layer (or graph node), naming it and its class so the user knows
 * exactly what to change or report.
 */
export function layerError(layerName: string, className: string, why: string): ConversionError {
  return new ConversionError(`cannot convert layer "${layerName}" (class ${className}): ${why}`);
}
