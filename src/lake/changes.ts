/**
 * Reading a Delta table as a stream: which data files each version after `v` added, so a
 * consumer can process only what is new and remember the last version it processed.
 *
 * The rule, per commit (see docs/guides/staged-mode.md, "A Delta table as a source"):
 * - `add` with `dataChange: true` is new data: its rows are read, in commit order, file order,
 *   row order.
 * - `add`/`remove` with `dataChange: false` rewrite rows that did not change (compaction,
 *   layout rebuilds): skipped, so compacting a source never re-emits its rows.
 * - `remove` with `dataChange: true` means rows were updated or deleted (a copy-on-write MERGE,
 *   `deleteWhen`). With `removes: fail` (the default) reading stops with
 *   PIPE_DELTA_SOURCE_CHANGED at that version. With `removes: ignore` the version's added files
 *   are read in full (rewritten files repeat their unchanged rows, so the consumer must upsert
 *   by key) and deletions are not propagated.
 * - A file removed and added again in one commit with a deletion vector (a merge-on-read MERGE
 *   or DELETE) had rows deleted or replaced and none added: a change, like a `remove` above
 *   (under `removes: ignore` nothing of it is read; a replacing row comes in a new file).
 * - Any other `add` carrying a deletion vector is refused (PIPE_DELTA_SOURCE_DELETION_VECTOR):
 *   its file holds rows the vector deletes, and this reader does not apply vectors.
 * - A version the log no longer holds (log cleanup ran past the consumer's position) stops
 *   with PIPE_DELTA_SOURCE_VERSION_GONE: rows would be missed otherwise.
 */
import { LakeError } from '../errors.js';
import { listLog, readCommit, type AddAction } from './log.js';
import { toDataFile, type LiveFile } from './snapshot.js';

/** What a `remove` with `dataChange: true` in the range does (see the module comment). */
export type RemovePolicy = 'fail' | 'ignore';

/** Options of {@link listChanges}. */
export interface ChangeOptions {
  removes?: RemovePolicy;
  /** Read at most this many versions (a batch's bound). */
  maxVersions?: number;
  /** Read no version above this one (a replayed batch reads exactly its recorded range). */
  upTo?: number;
}

/** One added data file and the version that added it. */
export interface AddedFile {
  version: number;
  file: LiveFile;
}

/** The new data of versions `(after, upTo]`. */
export interface TableChanges {
  after: number;
  /** Last version covered (equals `after` when there is nothing new). */
  upTo: number;
  files: AddedFile[];
  /** Versions whose only data actions were rewrites (`dataChange: false`), skipped. */
  skippedRewrites: number[];
  /** Versions with `remove` + `dataChange: true`, read under `removes: ignore`. */
  ignoredRemoves: number[];
}

/** Lists the data files versions after `after` added, by the rule of this module. */
export async function listChanges(tablePath: string, after: number, opts: ChangeOptions = {}): Promise<TableChanges> {
  const policy = opts.removes ?? 'fail';
  const { commits } = await listLog(tablePath);
  let versions = commits.filter((v) => v > after && (opts.upTo === undefined || v <= opts.upTo));
  const first = commits[0];
  if (first !== undefined && first > after + 1) {
    throw new LakeError('PIPE_DELTA_SOURCE_VERSION_GONE', `the log of ${tablePath} starts at version ${first}; versions ${after + 1}..${first - 1} this source still needs were cleaned up`, {
      hint: 'keep the source table\'s log longer (delta.logRetentionDuration), or re-derive the consumer\'s tables from the start with a new checkpoint',
    });
  }
  if (opts.maxVersions !== undefined) versions = versions.slice(0, Math.max(1, opts.maxVersions));
  const result: TableChanges = { after, upTo: after, files: [], skippedRewrites: [], ignoredRemoves: [] };
  for (const [i, version] of versions.entries()) {
    // A gap in the listed versions means the log is being written right now: stop before it.
    if (version !== after + 1 + i) break;
    const actions = await readCommit(tablePath, version);
    if (!actions) break;
    const adds: AddAction[] = [];
    let rewrites = 0;
    let changedRemoves = 0;
    const removed = new Set(actions.flatMap((a) => (a.remove && a.remove.dataChange !== false ? [a.remove.path] : [])));
    for (const a of actions) {
      if (a.add) {
        if (a.add.dataChange === false) rewrites++;
        else if (!(a.add as AddAction & { deletionVector?: unknown }).deletionVector) adds.push(a.add);
        else if (!removed.has(a.add.path)) {
          throw new LakeError('PIPE_DELTA_SOURCE_DELETION_VECTOR', `version ${version} of ${tablePath} adds ${a.add.path} with a deletion vector, which this source cannot apply`, {
            hint: 'purge the deletion vectors of the source table (REORG TABLE … APPLY (PURGE) in Spark), or read a table written without them',
          });
        }
      } else if (a.remove) {
        if (a.remove.dataChange === false) rewrites++;
        else changedRemoves++;
      }
    }
    if (changedRemoves > 0) {
      if (policy === 'fail') {
        const operation = actions.find((a) => a.commitInfo)?.commitInfo?.operation ?? 'an update';
        throw new LakeError('PIPE_DELTA_SOURCE_CHANGED', `version ${version} of ${tablePath} (${operation}) updated or deleted rows; a streaming read of it would miss or repeat them`, {
          hint: 'set source.delta.removes: ignore when the consumer upserts by key (rewritten rows are read again, deletions are not propagated), or read an append-only table',
        });
      }
      result.ignoredRemoves.push(version);
    } else if (adds.length === 0 && rewrites > 0) {
      result.skippedRewrites.push(version);
    }
    for (const add of adds) result.files.push({ version, file: { add, file: toDataFile(add) } });
    result.upTo = version;
  }
  return result;
}
