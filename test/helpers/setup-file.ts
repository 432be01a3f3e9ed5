import { beforeAll } from 'vitest';
import { resetIdSequence } from '../../src/lib/ids.js';
import { resetImportIdSequence } from '../../src/modules/imports/index.js';

// Test files share worker processes (vitest.config.ts: isolate false), and each
// file's manual clock starts where it likes: the time-ordered id generators
// must not carry an earlier file's time into this one.
beforeAll(() => {
  resetIdSequence();
  resetImportIdSequence();
});
