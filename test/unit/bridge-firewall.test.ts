// The per-lab ACCEPT rules that keep a lab bridge a plain switch: which listing lines are a lab's.
import { expect } from 'chai';
import { labRules, sameBridgeRule } from '../../lab/backends/docker/bridge-firewall.ts';

describe('bridge firewall rules', () => {
  const listing = [
    '-N DOCKER-USER',
    '-A DOCKER-USER -i hl1 -o hl1 -m comment --comment "halab:has-2" -j ACCEPT',
    '-A DOCKER-USER -i hl2 -o hl2 -m comment --comment "halab:has-20" -j ACCEPT',
    '-A DOCKER-USER -i hl3 -o hl3 -m comment --comment "halab:has-2" -j ACCEPT',
    '-A DOCKER-USER -j RETURN',
  ].join('\n');

  it("finds exactly one lab's rules, as the arguments that delete them", () => {
    expect(labRules(listing, 'has-2')).to.deep.equal([sameBridgeRule('hl1', 'has-2'), sameBridgeRule('hl3', 'has-2')]);
    expect(labRules(listing, 'has-20')).to.deep.equal([sameBridgeRule('hl2', 'has-20')]);
    expect(labRules(listing, 'has')).to.deep.equal([]);
  });

  it('only lets frames through that enter and leave the same bridge', () => {
    const r = sameBridgeRule('hlX', 'lab');
    expect(r.slice(0, 4)).to.deep.equal(['-i', 'hlX', '-o', 'hlX']);
    expect(r.at(-1)).to.equal('ACCEPT');
  });
});
