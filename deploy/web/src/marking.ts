// Classification markings: parsing banner lines ("SECRET//NOFORN") and portion marks
// ("(S//NF)"), the roll-up of everything on screen, and the CAPCO colours (by CSS class, never
// from the server's text).
import { useEffect, useState } from 'preact/hooks';

export const LEVELS = ['UNCLASSIFIED', 'CUI', 'CONFIDENTIAL', 'SECRET', 'TOP SECRET'] as const;
export type Level = (typeof LEVELS)[number];

const ABBREV: Record<string, Level> = {
  U: 'UNCLASSIFIED',
  UNCLASSIFIED: 'UNCLASSIFIED',
  CUI: 'CUI',
  C: 'CONFIDENTIAL',
  CONFIDENTIAL: 'CONFIDENTIAL',
  S: 'SECRET',
  SECRET: 'SECRET',
  TS: 'TOP SECRET',
  'TOP SECRET': 'TOP SECRET',
};

// Portion-mark abbreviations of dissemination controls, spelled out for the banner.
const CAVEAT_WORDS: Record<string, string> = { NF: 'NOFORN', OC: 'ORCON', PR: 'PROPIN', RS: 'RSEN' };
const SCI = ['SI', 'TK', 'HCS', 'SCI', 'G', 'KDK', 'RSV'];

export interface Parsed {
  level: Level;
  rank: number;
  caveats: string[];
}

/** A banner line or portion mark, parsed; unknown text counts as UNCLASSIFIED with no caveats. */
export function parseMarking(raw: string | null | undefined): Parsed {
  let s = String(raw ?? '').trim().toUpperCase();
  if (s.startsWith('(') && s.endsWith(')')) s = s.slice(1, -1).trim();
  const parts = s.split('//').map((p) => p.trim()).filter((p) => p !== '');
  const head = parts[0] ?? '';
  const level = ABBREV[head] ?? (head.startsWith('TOP SECRET') ? 'TOP SECRET' : head.startsWith('SECRET') ? 'SECRET' : 'UNCLASSIFIED');
  const caveats = parts.slice(1).map((c) => CAVEAT_WORDS[c] ?? c);
  return { level, rank: LEVELS.indexOf(level), caveats };
}

export function formatMarking(p: Parsed): string {
  return [p.level, ...p.caveats].join('//');
}

/** The roll-up of several markings: the highest level, with every control of every one of
 *  them (a NOFORN portion makes the whole screen NOFORN, whatever its level). The server's
 *  markings are canonical; this errs towards over-marking (two different REL TO lists are both
 *  kept rather than intersected). */
export function rollUp(markings: Iterable<string>): string | null {
  let best: Parsed | null = null;
  const caveats: string[] = [];
  for (const m of markings) {
    const p = parseMarking(m);
    if (!best || p.rank > best.rank) best = p;
    for (const c of p.caveats) if (!caveats.includes(c)) caveats.push(c);
  }
  return best ? formatMarking({ ...best, caveats }) : null;
}

/** A CSS class for a marking, from a fixed list. */
export function markingClass(raw: string | null | undefined): string {
  const p = parseMarking(raw);
  switch (p.level) {
    case 'TOP SECRET':
      return p.caveats.some((c) => SCI.includes(c.split(/[ -]/)[0])) ? 'mk-tssci' : 'mk-ts';
    case 'SECRET':
      return 'mk-s';
    case 'CONFIDENTIAL':
      return 'mk-c';
    case 'CUI':
      return 'mk-cui';
    default:
      return 'mk-u';
  }
}

// ---- the registry of markings on screen -----------------------------------------------------

const shown = new Map<number, string>();
let nextId = 1;
const listeners = new Set<() => void>();
let scheduled = false;

function changed() {
  if (scheduled) return;
  scheduled = true;
  queueMicrotask(() => {
    scheduled = false;
    for (const l of listeners) l();
  });
}

/** Registers a marking as shown; returns the function that withdraws it. */
export function register(marking: string): () => void {
  const id = nextId++;
  shown.set(id, marking);
  changed();
  return () => {
    shown.delete(id);
    changed();
  };
}

/** The roll-up of every marking on screen (UNCLASSIFIED when nothing marked is shown). */
export function screenMarking(): string {
  return rollUp(shown.values()) ?? 'UNCLASSIFIED';
}

/** Registers `marking` while the component is mounted (nothing for null/undefined). */
export function useMarking(marking: string | null | undefined) {
  useEffect(() => {
    if (marking === null || marking === undefined || marking === '') return;
    return register(marking);
  }, [marking]);
}

export function useScreenMarking(): string {
  const [m, setM] = useState(screenMarking());
  useEffect(() => {
    const l = () => setM(screenMarking());
    listeners.add(l);
    l();
    return () => {
      listeners.delete(l);
    };
  }, []);
  return m;
}
