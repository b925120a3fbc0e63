import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { barChart, fmt, lineChart } from './SvgChart.ts';
import { int, mdTable, mmm, textTable } from './Table.ts';

describe('report charts and tables', () => {
  it('a bar chart has one rect per finite value, a legend and escaped text', () => {
    const svg = barChart({
      title: 'A <b> & c', categories: ['x', 'y'], yLabel: 'n', log: true,
      series: [{ name: 's1', values: [1, 1000] }, { name: 's2', values: [0, Number.NaN] }],
      target: { value: 100, label: 'target' },
    });
    assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    assert.match(svg, /A &lt;b&gt; &amp; c/);
    // 3 finite values → 3 bars, plus the background and 2 legend swatches.
    assert.equal((svg.match(/<rect /g) ?? []).length, 6);
    assert.doesNotMatch(svg, /NaN|Infinity/);
    assert.match(svg, /stroke-dasharray="6 4"/);
  });

  it('a line chart draws a polyline per series and skips non-positive points on a log axis', () => {
    const svg = lineChart({
      title: 't', x: [1, 10, 100], xLabel: 'x', xLog: true, yLog: true, yLabel: 'y',
      series: [{ name: 'a', values: [1, 10, 100] }, { name: 'b', values: [0, 5, 50], dashed: true }],
    });
    assert.equal((svg.match(/<polyline /g) ?? []).length, 2);
    assert.equal((svg.match(/<circle /g) ?? []).length, 5);
    assert.doesNotMatch(svg, /NaN|Infinity/);
  });

  it('number and table formats', () => {
    assert.equal(fmt(1234567), '1.23M');
    assert.equal(fmt(0.05), '0.05');
    assert.equal(int(1234567), '1 234 567');
    assert.equal(mmm({ median: 2, min: 1, max: 3 }), '2.00 (1.00–3.00)');
    assert.equal(mmm({ median: 2, min: 2, max: 2 }, 0), '2');
    assert.equal(mdTable(['a', 'b'], [['x|y', '1']]), '| a | b |\n|:---|---:|\n| x\\|y | 1 |');
    assert.equal(textTable(['a', 'bb'], [['long', '1']], ''), 'a     bb\nlong   1');
  });
});
