export const int = (n: number) => n.toLocaleString('en-US');
/** Dollars with cents; amounts under a cent with two significant digits (a request costs fractions of one). */
export const usd = (n: number) => (n > 0 && n < 0.01 ? `$${Number(n.toPrecision(2))}` : `$${n.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`);
export const when = (iso: string | null | undefined) => (iso ? iso.replace('T', ' ').replace(/\.\d+Z$|Z$/, ' UTC') : '—');
/** A date input's value (`YYYY-MM-DD`) for a day some days from today (UTC). */
export const dayInput = (offsetDays: number) => new Date(Date.now() + offsetDays * 86_400_000).toISOString().slice(0, 10);
/** The exclusive end of a date input's day: the start of the next day (UTC). */
export const dayAfter = (day: string) => (day ? new Date(Date.parse(`${day}T00:00:00Z`) + 86_400_000).toISOString() : '');
