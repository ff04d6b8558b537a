// Plain-text tables for the CLI (cli-table3 does the layout).
import Table from 'cli-table3';

export function table(head: string[], rows: string[][]): string {
  const t = new Table({ head, style: { head: [], border: [] }, chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' } });
  for (const r of rows) t.push(r);
  return t.toString();
}
