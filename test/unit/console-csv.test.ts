import { csvCell, toCsv } from '../../src/admin/csv';

test('CSV cells are quoted as RFC 4180 says, and formula-looking text is neutralised', () => {
  expect(toCsv(['model', 'requests'], [['gpt-4o', 3], [null, 0]])).toBe('model,requests\r\ngpt-4o,3\r\n,0\r\n');
  expect(csvCell('a,b')).toBe('"a,b"');
  expect(csvCell('say "hi"')).toBe('"say ""hi"""');
  expect(csvCell('line\nbreak')).toBe('"line\nbreak"');
  for (const formula of ['=HYPERLINK("x")', '+1', '-1+2', '@SUM(A1)', '\tx']) expect(csvCell(formula).replace(/^"/, '')).toMatch(/^'/);
  expect(csvCell(-1.5)).toBe('-1.5');
});
