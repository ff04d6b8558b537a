// Debian mirror for debootstrap: the one the host's apt already uses (never a hard-coded host).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** First http(s) URI serving the main archive in deb822 (.sources) or one-line (.list) apt config. */
export function parseAptMirror(files: { name: string; text: string }[]): string | undefined {
  for (const { name, text } of files) {
    if (name.endsWith('.sources')) {
      for (const stanza of text.split(/\n\s*\n/)) {
        const uris = /^URIs:\s*(\S+)/m.exec(stanza)?.[1];
        const suites = /^Suites:\s*(.+)$/m.exec(stanza)?.[1] ?? '';
        const enabled = !/^Enabled:\s*no/im.test(stanza);
        if (enabled && uris && /^https?:/.test(uris) && !/security/.test(uris) && !/-security/.test(suites)) return uris;
      }
    } else {
      for (const line of text.split('\n')) {
        const m = /^\s*deb\s+(?:\[[^\]]*\]\s+)?(https?:\S+)\s+(\S+)/.exec(line);
        if (m && !/security/.test(m[1]!) && !/-security/.test(m[2]!)) return m[1];
      }
    }
  }
  return undefined;
}

export function hostAptMirror(): string | undefined {
  if (process.env.HALAB_DEBIAN_MIRROR) return process.env.HALAB_DEBIAN_MIRROR;
  const files: { name: string; text: string }[] = [];
  if (existsSync('/etc/apt/sources.list')) files.push({ name: 'sources.list', text: readFileSync('/etc/apt/sources.list', 'utf8') });
  const dir = '/etc/apt/sources.list.d';
  if (existsSync(dir)) {
    for (const f of readdirSync(dir).sort()) {
      if (f.endsWith('.sources') || f.endsWith('.list')) files.push({ name: f, text: readFileSync(join(dir, f), 'utf8') });
    }
  }
  return parseAptMirror(files);
}
