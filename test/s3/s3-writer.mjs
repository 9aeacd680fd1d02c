// A separate writer process for the object-storage tests. Imports the BUILT lake and upserts
// `batches` batches into one table, reporting the versions it committed and the conditional
// write conflicts it retried. The bucket comes from the AWS_* environment.
// Usage: node s3-writer.mjs <table> <writer> <firstKey> <keys> <batches> <seqOffset>
import { Lake } from '../../dist/src/lake/index.js';

const [table, writer, firstKey, keys, batches, seqOffset] = process.argv.slice(2);
const lake = await Lake.create({ threads: 1 });
let conflicts = 0;
const committed = [];
for (let b = 0; b < Number(batches); b++) {
  const rows = [];
  for (let k = 0; k < Number(keys); k++) rows.push({ id: Number(firstKey) + k, seq: b * 2 + Number(seqOffset), writer, batch: b });
  const r = await lake.write(table, { kind: 'rows', rows }, { mode: 'upsert', mergeKeys: ['id'], sequenceBy: 'seq', txn: { appId: `writer-${writer}`, version: b } });
  conflicts += r.conflictsRetried;
  if (r.status === 'committed') committed.push(r.version);
}
process.stdout.write(JSON.stringify({ writer, conflicts, committed }) + '\n');
lake.close();
