/**
 * RFC 4180 CSV for admin exports. A cell starting with `=`, `+`, `-`, `@`, tab or CR is prefixed
 * with `'` (OWASP's advice against formula injection): group values such as user names and
 * model names come from clients, and spreadsheets would run them as formulas.
 */
export function csvCell(value: string | number | null): string {
  if (value === null) return '';
  if (typeof value === 'number') return String(value);
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export function toCsv(header: string[], rows: (string | number | null)[][]): string {
  return [header, ...rows].map((r) => r.map(csvCell).join(',')).join('\r\n') + '\r\n';
}
