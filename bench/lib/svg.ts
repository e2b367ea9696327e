// A small SVG bar chart of convergence: per stream count, p50 and max of etcd-xds, of the
// transport floor and, when measured, of go-control-plane (ms), so a run's result can be looked at
// without other tools.
import * as fs from 'node:fs';
import type { Summary } from './stats';

interface Row {
  streams: number;
  ours: { all: Summary };
  floor: { all: Summary };
  peer?: { all: Summary };
}

const escape = (text: string): string => text.replace(/&/g, '&amp;').replace(/</g, '&lt;');

export function writeConvergencePlot(file: string, rows: readonly Row[]): void {
  const series = [
    { label: 'etcd-xds p50', color: '#7fb3d5', value: (r: Row) => r.ours.all.p50 },
    { label: 'etcd-xds max', color: '#1f618d', value: (r: Row) => r.ours.all.max },
    { label: 'floor p50', color: '#f5cba7', value: (r: Row) => r.floor.all.p50 },
    { label: 'floor max', color: '#ca6f1e', value: (r: Row) => r.floor.all.max },
    ...(rows.some((r) => r.peer)
      ? [
          { label: 'go-control-plane p50', color: '#abebc6', value: (r: Row) => r.peer?.all.p50 ?? 0 },
          { label: 'go-control-plane max', color: '#1e8449', value: (r: Row) => r.peer?.all.max ?? 0 },
        ]
      : []),
  ];
  const width = 720;
  const height = 400;
  const left = 60;
  const bottom = 70;
  const top = 40;
  const plotHeight = height - top - bottom;
  const maxValue = Math.max(1, ...rows.flatMap((r) => series.map((s) => s.value(r))));
  const groupWidth = (width - left - 20) / Math.max(1, rows.length);
  const barWidth = (groupWidth * 0.8) / series.length;
  const y = (v: number): number => top + plotHeight - (v / maxValue) * plotHeight;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${left}" y="20" font-size="14">EDS change → every stream has it (ms), etcd-xds vs transport floor${rows.some((r) => r.peer) ? ' and go-control-plane' : ''}</text>`,
  ];
  for (let i = 0; i <= 4; i++) {
    const v = (maxValue * i) / 4;
    parts.push(
      `<line x1="${left}" x2="${width - 20}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/>`,
      `<text x="${left - 6}" y="${y(v) + 4}" text-anchor="end">${v.toFixed(0)}</text>`,
    );
  }
  rows.forEach((row, g) => {
    const x0 = left + g * groupWidth + groupWidth * 0.1;
    series.forEach((s, i) => {
      const v = s.value(row);
      parts.push(
        `<rect x="${x0 + i * barWidth}" y="${y(v)}" width="${barWidth - 2}" height="${top + plotHeight - y(v)}" fill="${s.color}"><title>${escape(`${s.label} ${v.toFixed(1)} ms`)}</title></rect>`,
      );
    });
    parts.push(
      `<text x="${x0 + groupWidth * 0.4}" y="${height - bottom + 18}" text-anchor="middle">N = ${row.streams}</text>`,
    );
  });
  series.forEach((s, i) => {
    // Two legend rows of up to four entries.
    const x = left + (i % 4) * 165;
    const yRow = height - 28 + Math.floor(i / 4) * 16;
    parts.push(
      `<rect x="${x}" y="${yRow - 10}" width="12" height="12" fill="${s.color}"/>`,
      `<text x="${x + 16}" y="${yRow}">${escape(s.label)}</text>`,
    );
  });
  parts.push('</svg>');
  fs.writeFileSync(file, `${parts.join('\n')}\n`);
}
