/** Builds MinIO before the object-storage suite when it is not cached yet. */
import { ensureMinio } from '../../src/dev-broker/object-store.js';

export default function setup(): void {
  ensureMinio();
}
