export { analyseTopology, expandTopology, loadTopologyFile, parseTopology } from './load.ts';
export { validateLabName, parseMemory } from './schema.ts';
export * from './types.ts';
