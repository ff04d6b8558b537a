// Reading a topology file: YAML (with positions) → shape checks → semantic checks → LabPlan.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import { checkShape, type Report } from './schema.ts';
import { planTopology } from './expand.ts';
import { fieldName, positionOf } from './yaml-positions.ts';
import { TopologyError, type LabPlan, type Topology, type TopologyProblem } from './types.ts';
import { knownStacks } from '../stacks/index.ts';
import { UserError } from '../util/errors.ts';

function byPosition(a: TopologyProblem, b: TopologyProblem): number {
  return a.line - b.line || a.column - b.column;
}

/** Parse and fully check a topology; throws TopologyError listing every problem found. */
export function analyseTopology(text: string, file: string): { topology: Topology; plan: LabPlan } {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: true, prettyErrors: true });
  const problems: TopologyProblem[] = doc.errors.map((e) => ({
    file,
    line: e.linePos?.[0]?.line ?? 1,
    column: e.linePos?.[0]?.col ?? 1,
    field: '',
    message: `YAML: ${e.message.split('\n')[0]}`,
  }));
  if (problems.length) throw new TopologyError(problems.sort(byPosition));
  const report: Report = (path, message, onKey = false) =>
    problems.push({ file, ...positionOf(doc, lc, path, onKey), field: fieldName(path), message });
  const topology = checkShape(doc.toJS(), report);
  if (!topology) throw new TopologyError(problems.sort(byPosition));
  if (topology.stack && !knownStacks().includes(topology.stack)) {
    report(['stack'], `unknown stack '${topology.stack}'; stacks: ${knownStacks().join(', ') || '(none)'}`);
  }
  const plan = planTopology(topology, file, report);
  if (problems.length) throw new TopologyError(problems.sort(byPosition));
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
