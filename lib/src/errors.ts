/**
 * Every error a user can meet, in one table: code → HTTP status and message.
 * Domain code throws `AppError`s by code; only the HTTP edge turns them into responses.
 */
export const ERRORS = {
  NO_FILE_PART: { status: 400, message: 'No file part' },
  NO_FILE_SELECTED: { status: 400, message: 'No image selected for uploading' },
  EXTENSION_NOT_ALLOWED: { status: 400, message: 'Allowed image types are -> png, jpg, jpeg, gif, webp' },
  FILE_NAME_TOO_LONG: { status: 400, message: 'The file name is longer than allowed; rename the file' },
  FILE_TOO_LARGE: { status: 413, message: 'The file is larger than the upload limit' },
  NOT_AN_IMAGE: { status: 415, message: 'The file is not a PNG, JPEG, GIF or WebP image' },
  IMAGE_UNREADABLE: { status: 400, message: 'The image is damaged and cannot be decoded' },
  IMAGE_TOO_MANY_PIXELS: { status: 400, message: 'The image has more pixels than allowed' },
  UNKNOWN_MODEL: { status: 404, message: 'No such model is served' },
  BAD_REQUEST: { status: 400, message: 'The request is not valid' },
  BAD_PARAMETER: { status: 400, message: 'A parameter is missing, malformed or out of its allowed range' },
  MALFORMED_BODY: { status: 400, message: 'The request body cannot be parsed' },
  UNSUPPORTED_CONTENT_TYPE: { status: 415, message: 'This kind of body is not accepted here' },
  TOO_MANY_PARTS: { status: 413, message: 'The form has more parts than allowed' },
  BODY_TOO_LARGE: { status: 413, message: 'The request body is larger than allowed' },
  REPORT_TOO_LONG: { status: 413, message: 'The report is longer than allowed' },
  BODY_TIMEOUT: { status: 408, message: 'The request body stopped arriving; send it again' },
  REQUEST_TIMEOUT: { status: 408, message: 'The request did not arrive in time' },
  EXPECTATION_FAILED: { status: 417, message: 'The request\'s Expect header asks for something this server does not do; send it without that header (only "Expect: 100-continue" is understood)' },
  URI_TOO_LONG: { status: 414, message: 'The URL is longer than allowed' },
  HEADERS_TOO_LARGE: { status: 431, message: 'The request headers are larger than allowed' },
  CLIENT_CLOSED: { status: 499, message: 'The client closed the connection before the answer' },
  ADMIN_TOKEN_REQUIRED: { status: 401, message: 'This page needs the admin token' },
  ADMIN_LOOPBACK_ONLY: { status: 403, message: 'Without ADMIN_TOKEN set, this page answers only on the server itself (127.0.0.1 or ::1)' },
  CROSS_SITE_POST: { status: 403, message: 'A form on another site cannot post here; open this service\'s own page and submit it there' },
  TOO_MANY_REQUESTS: { status: 429, message: 'Too many requests from this client; slow down' },
  METHOD_NOT_ALLOWED: { status: 405, message: 'This method is not allowed here' },
  NOT_FOUND: { status: 404, message: 'Not found' },
  QUEUE_FULL: { status: 503, message: 'Too many predictions are waiting; retry shortly' },
  NOT_READY: { status: 503, message: 'The service cannot take this request now' },
  DEADLINE_EXCEEDED: { status: 504, message: 'The prediction did not finish before its deadline' },
  PREDICTION_FAILED: { status: 500, message: 'The model failed on this image' },
  STORAGE_FULL: { status: 507, message: 'The server has no room left to store this; try again later' },
  STORAGE_UNWRITABLE: { status: 503, message: 'The server cannot store this now: a folder it writes to cannot be written; its operator must fix it' },
  FEEDBACK_FULL: { status: 507, message: 'Reports cannot be stored now: the feedback store is full until its operator archives it' },
  UPLOAD_NOT_SHARED: { status: 500, message: 'The model worker cannot read the stored upload: the service is misconfigured (the image is not at fault)' },
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

/**
 * The queue did not answer a lookup in time (a hung Redis, a network black hole): nothing was queued,
 * so the client may retry; a 504 would blame the image.
 */
export const QUEUE_NO_ANSWER = 'the queue (Redis) did not answer in time';
export const queueNoAnswer = (): AppError => new AppError('NOT_READY', QUEUE_NO_ANSWER, { retryAfterS: 1 });
/** Redis cannot be used, in its own words (e.g. a refused password, which names REDIS_URL): predictions and /readyz say the same. */
export const queueUnusableReason = (why: string): string => `the queue (Redis) cannot be used: ${why}`;
export const queueUnusable = (why: string): AppError => new AppError('NOT_READY', queueUnusableReason(why), { retryAfterS: 1 });
/** A model's queue at its bound (QUEUE_MAX_WAITING), with the jobs counted when known; said alike wherever it was found full. */
export const queueFull = (model: string, jobs?: number): AppError =>
  new AppError('QUEUE_FULL', `the queue for model ${model} is full${jobs === undefined ? '' : ` (${jobs} ${jobs === 1 ? 'job' : 'jobs'} queued or running)`}`, { retryAfterS: 1 });
/** 503: the model's queue holds as many heavy jobs (images that decode to more than 64 MiB) as it takes. */
export const heavyQueueFull = (model: string, jobs: number): AppError =>
  new AppError('QUEUE_FULL', `the queue for model ${model} holds as many very large images (over 64 MiB decoded) as it takes (${jobs} queued or running); smaller images are still taken`, { retryAfterS: 2 });
