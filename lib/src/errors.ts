/**
 * Every error a user can meet, in one table: code → HTTP status and message.
 * Domain code throws `AppError`s by code; only the HTTP edge turns them into responses.
 */
export const ERRORS = {
  NO_FILE_PART: { status: 400, message: 'No file part' },
  NO_FILE_SELECTED: { status: 400, message: 'No image selected for uploading' },
  EXTENSION_NOT_ALLOWED: { status: 400, message: 'Allowed image types are -> png, jpg, jpeg, gif' },
  FILE_TOO_LARGE: { status: 413, message: 'The file is larger than the upload limit' },
  NOT_AN_IMAGE: { status: 415, message: 'The file is not a PNG, JPEG, GIF or WebP image' },
  IMAGE_UNREADABLE: { status: 400, message: 'The image is damaged and cannot be decoded' },
  IMAGE_TOO_MANY_PIXELS: { status: 400, message: 'The image has more pixels than allowed' },
  UNKNOWN_MODEL: { status: 404, message: 'No such model is served' },
  BAD_REQUEST: { status: 400, message: 'The request is not valid' },
  NOT_FOUND: { status: 404, message: 'Not found' },
  QUEUE_FULL: { status: 503, message: 'Too many predictions are waiting; retry shortly' },
  NOT_READY: { status: 503, message: 'The service is starting or has no worker for this model' },
  DEADLINE_EXCEEDED: { status: 504, message: 'The prediction did not finish before its deadline' },
  PREDICTION_FAILED: { status: 500, message: 'The model failed on this image' },
  INTERNAL: { status: 500, message: 'Internal error' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

/** An error with a code from the table; `detail` adds what exactly was wrong, for the user. */
export class AppError extends Error {
  override name = 'AppError';
  readonly status: number;
  /** Seconds a client should wait before retrying (503 only). */
  readonly retryAfterS?: number;

  constructor(
    readonly code: ErrorCode,
    readonly detail?: string,
    opts?: { retryAfterS?: number; cause?: unknown },
  ) {
    super(detail ? `${ERRORS[code].message}: ${detail}` : ERRORS[code].message, { cause: opts?.cause });
    this.status = ERRORS[code].status;
    this.retryAfterS = opts?.retryAfterS;
  }
}

export const isAppError = (err: unknown): err is AppError => err instanceof AppError;
