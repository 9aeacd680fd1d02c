import { errorCodeInfo, type ErrorCode } from './error-codes.js';

export type { ErrorCode } from './error-codes.js';

/**
 * One error hierarchy for the whole project. Every error carries a stable code
 * (`PIPE_<AREA>_<WHAT>`) registered in `error-codes.ts`, an optional cause, and says whether
 * retrying can help. Whether a code is retriable is the registry's to say, never the throw
 * site's, and unknown failures (plain errors) are never retriable: they must stop, not loop.
 */
export interface PipelineErrorOptions {
  cause?: unknown;
  /** What the user can do about it, printed after the message; defaults to the code's registered hint. */
  hint?: string;
  /** Structured context for logs (table, stream, partition, ...). */
  details?: Record<string, unknown>;
}

/** Base class: code + message + cause + retriable flag. */
export class PipelineError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;
  readonly hint?: string;
  readonly details?: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: PipelineErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    const info = errorCodeInfo(code);
    this.name = new.target.name;
    this.code = code;
    this.retriable = info.retriable;
    this.hint = options.hint ?? info.hint;
    this.details = options.details;
  }

  /** One line for a terminal: `CODE message (hint)`. */
  toLine(): string {
    return `${this.code} ${this.message}${this.hint ? ` (${this.hint})` : ''}`;
  }
}

/** The user's input (spec, flags, files) is wrong. Exit code 1 (2 for usage). */
export class UsageError extends PipelineError {}

/** A spec failed to load or validate; diagnostics were already printed. */
export class SpecError extends PipelineError {}

/** The Delta table layer failed (log, snapshot, commit, merge). */
export class LakeError extends PipelineError {}

/**
 * A row of a write failed an expectation whose action is `fail`: nothing was written. `details`
 * holds `table`, `expectation`, `sql`, `row` (input row) and `values` (the columns it names).
 */
export class ExpectationFailedError extends LakeError {}

/** Another writer committed the same version first; the caller re-reads and retries. */
export class CommitConflictError extends LakeError {
  constructor(message: string, options: PipelineErrorOptions = {}) {
    super('PIPE_LAKE_CONFLICT', message, options);
  }
}

/** A batch cannot be written to a table as-is (type change that cannot widen, bad key). */
export class SchemaMismatchError extends LakeError {}

/** Kafka/source-side failure. Network errors are retriable; data loss is not. */
export class SourceError extends PipelineError {}

/** Checkpoint state is missing, locked, or incompatible with the spec. */
export class CheckpointError extends PipelineError {}

/** Renders any thrown value as one line for the user. */
export function describeError(err: unknown): string {
  if (err instanceof PipelineError) return err.toLine();
  if (err instanceof Error) return err.message;
  return String(err);
}
