// Human-facing numbers and dates: times in Asia/Tokyo, in the chosen language.
import { lang, t } from './i18n.js';

export const TIME_ZONE = 'Asia/Tokyo';
const formats = new Map();

function locale() { return lang() === 'ja' ? 'ja-JP' : 'en-GB'; }

function formatter(kind, options) {
  const key = `${locale()}|${kind}`;
  if (!formats.has(key)) formats.set(key, new Intl.DateTimeFormat(locale(), options));
  return formats.get(key);
}

const isDateOnly = (v) => typeof v === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(v);

/** Date and time of an ISO instant, in Tokyo. */
export function dateTime(value) {
  if (value === null || value === undefined) return '–';
  if (isDateOnly(value)) return date(value);
  return formatter('dt', {
    timeZone: TIME_ZONE, year: 'numeric', month: lang() === 'ja' ? '2-digit' : 'short', day: '2-digit',
    hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
  }).format(new Date(value));
}

/** A short Tokyo time or date for chart axes: "6/2" for days, "08:00" within a day. */
export function axisLabel(seconds, withDay) {
  const d = new Date(seconds * 1000);
  const day = formatter('axd', { timeZone: TIME_ZONE, month: 'numeric', day: 'numeric' }).format(d);
  if (withDay === 'day') return day;
  const time = formatter('axt', { timeZone: TIME_ZONE, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(d);
  return withDay ? `${time}\n${day}` : time;
}

/** A calendar date; a bare `YYYY-MM-DD` is a date already, not an instant to shift. */
export function date(value) {
  if (value === null || value === undefined) return '–';
  const options = { year: 'numeric', month: lang() === 'ja' ? '2-digit' : 'short', day: '2-digit' };
  if (isDateOnly(value)) {
    return formatter('dutc', { ...options, timeZone: 'UTC' }).format(new Date(`${value}T00:00:00Z`));
  }
  return formatter('d', { ...options, timeZone: TIME_ZONE }).format(new Date(value));
}

/** A number with at most `digits` decimals, grouped in the chosen language. */
export function number(value, digits = 1) {
  if (value === null || value === undefined || Number.isNaN(value)) return '–';
  return new Intl.NumberFormat(locale(), { maximumFractionDigits: digits }).format(value);
}

/** A unit as people read it: the catalogue's "items" is 個 in Japanese, m3 is m³. */
export function unitLabel(unit) {
  if (unit === 'items') return t('unit.items');
  return unit === 'm3' ? 'm³' : unit || '';
}

/** A number followed by its unit from the sensor catalogue. */
export function quantity(value, unit, digits = 1) {
  const text = number(value, digits);
  return unit && text !== '–' ? `${text} ${unitLabel(unit)}` : text;
}

/** "5 minutes ago"-style text for an instant. */
export function ago(value, now = Date.now()) {
  if (!value) return t('common.never');
  const seconds = (new Date(value).getTime() - now) / 1000;
  const rtf = new Intl.RelativeTimeFormat(locale(), { numeric: 'auto' });
  const units = [['day', 86400], ['hour', 3600], ['minute', 60]];
  for (const [unit, size] of units) {
    if (Math.abs(seconds) >= size) return rtf.format(Math.round(seconds / size), unit);
  }
  return rtf.format(Math.round(seconds), 'second');
}

/** Hours as "1日 3時間" / "1 d 3 h". */
export function hours(value) {
  if (value === null || value === undefined) return '–';
  const total = Math.max(0, value);
  const days = Math.floor(total / 24);
  const rest = total - days * 24;
  const h = t('unit.hours', { n: number(rest, 1) });
  return days > 0 ? `${t('unit.days', { n: days })} ${h}` : h;
}
