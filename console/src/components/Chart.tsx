import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface Series {
  label: string;
  values: number[];
  color: string;
}

/** A line chart over time (x: epoch seconds, one point per hour or day), drawn by uPlot on a canvas; the figure's caption says what it shows. */
export function Chart({ title, times, series, height = 220, format = String }: { title: string; times: number[]; series: Series[]; height?: number; format?: (n: number) => string }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const plot = new uPlot(
      {
        width: Math.max(300, el.clientWidth || 600),
        height,
        scales: { x: { time: true } },
        axes: [{}, { size: 84, values: (_u: uPlot, ticks: number[]) => ticks.map(format) }],
        series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.color, width: 2, points: { show: true } }))],
      },
      [times, ...series.map((s) => s.values)],
      el,
    );
    const resize = () => plot.setSize({ width: Math.max(300, el.clientWidth), height });
    window.addEventListener('resize', resize);
    return () => {
      window.removeEventListener('resize', resize);
      plot.destroy();
    };
  }, [times, series, height, format]);
  return (
    <figure class="chart">
      <figcaption>{title}</figcaption>
      <div ref={box} role="img" aria-label={`${title}: ${series.map((s) => `${s.label} ${s.values.join(', ')}`).join('; ')}`} />
    </figure>
  );
}
