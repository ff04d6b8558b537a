import { expect } from 'chai';
import { generateFileSet } from '../../lab/stacks/has/fileset.ts';

describe('HAS file set', () => {
  it('has the asked count and a mean within 1 % of the asked mean', () => {
    const files = generateFileSet(1032, 6200, 5700);
    expect(files).to.have.length(6200);
    const mean = files.reduce((a, f) => a + f.size, 0) / files.length;
    expect(mean).to.be.within(5700 * 0.99, 5700 * 1.01);
    expect(new Set(files.map((f) => f.path)).size).to.equal(6200);
  });
  it('is deterministic from its seed and differs across seeds', () => {
    expect(generateFileSet(7, 100, 5700)).to.deep.equal(generateFileSet(7, 100, 5700));
    expect(generateFileSet(7, 100, 5700)).to.not.deep.equal(generateFileSet(8, 100, 5700));
  });
  it('has a spread of sizes (small pages and a tail), within the clamps', () => {
    const sizes = generateFileSet(1032, 6200, 5700).map((f) => f.size).sort((a, b) => a - b);
    expect(sizes[0]).to.be.at.least(64);
    expect(sizes.at(-1)).to.be.at.most(40 * 5700);
    const median = sizes[3100]!;
    expect(median).to.be.below(5700); // lognormal: median below the mean
    expect(sizes[6138]).to.be.above(3 * 5700); // p99 well above the mean
  });
});
