/**
 * Sizes as people read them in `shoal node ls` and in a pending task's reason ("512 MB free of
 * the 2 GB reserved"). Powers of 1024, as Docker counts memory, with Docker's short unit names.
 */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  const shown = unit === 0 || Number.isInteger(value) ? String(value) : value.toFixed(value < 10 ? 1 : 0).replace(/\.0$/, '');
  return `${shown} ${units[unit] ?? 'B'}`;
}

/** CPUs from Docker's billionths: 0.5 CPU, 2 CPUs. */
export function formatCpus(nanoCpus: number): string {
  const cpus = Math.round(nanoCpus / 1e7) / 100;
  return `${cpus} CPU${cpus === 1 ? '' : 's'}`;
}
