/**
 * Progress for long benchmark runs, on stderr: a cli-progress bar on a terminal, otherwise one line per
 * case (case, rate, ETA) so a log file shows where a run is. Progress is counted in estimated seconds so
 * the ETA is not fooled by thousands of cheap cases before a few expensive ones.
 */

import cliProgress from 'cli-progress';

/** Something that hears about finished cases. */
export interface ProgressSink {
  /** A case finished; `cost` is its share of the estimated total; `rate` a short figure like "12.3 GFLOP/s". */
  advance(cost: number, label: string, rate: string): void;
  /** A one-off line (a group starting, a warning) without breaking the bar. */
  note(line: string): void;
  stop(): void;
}

/** "1h02m", "4m05s", "12s". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  if (s >= 3600) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${s}s`;
}

/** A progress sink for `total` estimated seconds of work; `quiet` prints nothing. */
export function progress(total: number, title: string, quiet = false): ProgressSink {
  const start = performance.now();
  let done = 0;
  let cases = 0;
  const eta = () => {
    const elapsed = (performance.now() - start) / 1000;
    return done > 0 ? formatDuration((elapsed / done) * Math.max(0, total - done)) : '?';
  };
  if (quiet) return { advance: () => {}, note: () => {}, stop: () => {} };
  if (!process.stderr.isTTY) {
    return {
      advance(cost, label, rate) {
        done += cost;
        cases++;
        const p = Math.min(100, Math.round((100 * done) / total));
        process.stderr.write(
          `[${title} ${String(p).padStart(3)}% ETA ${eta()}] #${cases} ${label}: ${rate}\n`,
        );
      },
      note: (line) => process.stderr.write(`${line}\n`),
      stop: () => {},
    };
  }
  const bar = new cliProgress.SingleBar(
    {
      format: `${title} [{bar}] {percentage}% | ETA {eta_text} | {label} {rate}`,
      stream: process.stderr,
      hideCursor: true,
      clearOnComplete: true,
      barsize: 24,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0, { eta_text: '?', label: '', rate: '' });
  return {
    advance(cost, label, rate) {
      done += cost;
      bar.update(Math.min(done, total), { eta_text: eta(), label, rate });
    },
    note(line) {
      // clear the bar's line, print, and let the next update redraw it
      process.stderr.write(`\r\x1b[2K${line}\n`);
    },
    stop: () => bar.stop(),
  };
}
