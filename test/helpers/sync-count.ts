/** Counts fs.fdatasyncSync calls (each still syncs) until restore(): how many syncs the store made on the thread. */
import fs from 'node:fs';

export function countSyncs(): { readonly count: number; restore(): void } {
  const realSync = fs.fdatasyncSync;
  let count = 0;
  fs.fdatasyncSync = (fd: number) => {
    count++;
    realSync(fd);
  };
  return {
    get count() {
      return count;
    },
    restore: () => {
      fs.fdatasyncSync = realSync;
    },
  };
}
