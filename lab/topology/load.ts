// Reading a topology file: YAML (with positions) → shape checks → semantic checks → LabPlan.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { checkShape } from './schema.ts';
import { planTopology } from './expand.ts';
import { fieldName, parseForChecking } from './yaml-positions.ts';
import { TopologyError, type LabPlan, type Topology, type TopologyProblem } from './types.ts';
import { checkStackParams, knownStacks } from '../stacks/index.ts';
import { UserError } from '../util/errors.ts';

/** Parse and fully check a topology; throws TopologyError listing every problem found. */
export function analyseTopology(text: string, file: string): { topology: Topology; plan: LabPlan } {
  const { doc, problems, report, sorted } = parseForChecking(text, file);
  if (problems.length) throw new TopologyError(sorted());
  const topology = checkShape(doc.toJS(), report);
  if (!topology) throw new TopologyError(sorted());
  if (topology.stack && !knownStacks().includes(topology.stack)) {
    report(['stack'], `unknown stack '${topology.stack}'; stacks: ${knownStacks().join(', ') || '(none)'}`);
  }
  const plan = planTopology(topology, file, report);
  if (problems.length) throw new TopologyError(sorted());
  checkStackParams(plan, report);
  if (problems.length) throw new TopologyError(sorted());
  return { topology, plan };
}

export function parseTopology(text: string, file: string): Topology {
  return analyseTopology(text, file).topology;
}

/** Expansion of an already parsed topology (problems, if any, carry no position). */
export function expandTopology(topology: Topology, file?: string): LabPlan {
  const problems: TopologyProblem[] = [];
  const plan = planTopology(topology, file, (path, message) =>
    problems.push({ file: file ?? '<topology>', line: 0, column: 0, field: fieldName(path), message }),
  );
  if (problems.length) throw new TopologyError(problems);
  return plan;
}

export async function loadTopologyFile(path: string): Promise<{ topology: Topology; plan: LabPlan }> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new UserError(`No topology file ${path}`, 2);
    throw err;
  }
  const result = analyseTopology(text, path);
  result.plan.sourceFile = resolve(path);
  return result;
}
