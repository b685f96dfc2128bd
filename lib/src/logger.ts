/** Structured JSON logs (pino), shared by every process so api and worker lines look alike. */
import { pino, type Logger as PinoLogger } from 'pino';

export type Logger = PinoLogger;

/** `destination`: where the JSON lines go (stdout by default; tests read them back). */
export function createLogger(level: string, name: string, destination?: { write(line: string): void }): Logger {
  const options = { level, name, base: { pid: process.pid } };
  return destination ? pino(options, destination) : pino(options);
}
