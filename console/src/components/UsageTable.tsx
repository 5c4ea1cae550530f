import { int, usd } from '../format';
import type { UsageRow } from '../types';

export function UsageTable({ rows, groupLabel }: { rows: UsageRow[]; groupLabel: string }) {
  if (rows.length === 0) return <p class="empty">No usage in this range.</p>;
  return (
    <table>
      <thead>
        <tr>
          <th scope="col">{groupLabel}</th>
          <th scope="col" class="num">Requests</th>
          <th scope="col" class="num">Errors</th>
          <th scope="col" class="num">Prompt tokens</th>
          <th scope="col" class="num">Completion tokens</th>
          <th scope="col" class="num">Total tokens</th>
          <th scope="col" class="num">Cost</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr key={r.group ?? '(none)'}>
            <th scope="row">{r.group ?? '(none)'}</th>
            <td class="num">{int(r.requests)}</td>
            <td class="num">{int(r.errors ?? 0)}</td>
            <td class="num">{int(r.prompt_tokens)}</td>
            <td class="num">{int(r.completion_tokens)}</td>
            <td class="num">{int(r.total_tokens)}</td>
            <td class="num">{usd(r.cost_usd)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
