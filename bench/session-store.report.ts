import { BenchContext } from './lib/context';
import { runScript } from './lib/children';
import { barChart, table, verdict } from './lib/markdown';
import { formatNumber } from './lib/stats';
import type { StoreResult } from './session-store.bench';

export const STORE_TARGET_BYTES = 300;

/** Part 2, from the parent: runs bench/session-store.bench.ts in a fresh process with --expose-gc. */
export async function sessionStore(
  context: BenchContext,
): Promise<{ result: StoreResult; markdown: string }> {
  const sessions = context.settings.storeSessions;
  context.log(`part 2: ${sessions.toLocaleString('en-US')} sessions in InMemorySessionRepository`);
  const result = await runScript<StoreResult>(
    'session-store.bench',
    { sessions, profileSessions: Math.min(sessions, 100_000) },
    ['--expose-gc', '--max-old-space-size=4096'],
  );
  return { result, markdown: render(result) };
}

function render(result: StoreResult): string {
  const out: string[] = [];
  out.push('## 2. Session store at scale');
  out.push('');
  out.push(
    `${result.sessions.toLocaleString('en-US')} sessions, ${result.perUser} per user, created in \`InMemorySessionRepository\` ` +
      'in a fresh process (`--expose-gc`; heapUsed after a full GC, before and after). Fields as the service writes them: ' +
      '22-character ids from `newSessionId()`, one flat 36-character user id per user, 43-character base64url SHA-256 hashes, ' +
      'five user agents and six addresses, a shared location object per country on 60% of the sessions.',
  );
  out.push('');
  out.push(
    table(
      ['measure', 'value', 'target', 'result'],
      [
        [
          'heap bytes per session',
          formatNumber(result.bytesPerSession),
          `≤ ${STORE_TARGET_BYTES} at 1,000,000`,
          result.sessions >= 1_000_000
            ? verdict(result.bytesPerSession <= STORE_TARGET_BYTES)
            : 'not judged (fewer sessions: hash tables cost more per entry)',
        ],
        ['create, ns/op (incl. per-user limit and indexes)', formatNumber(result.createNs), '', ''],
        [
          'lookup + validate, ns/op (findById, owner, fingerprint hash)',
          formatNumber(result.lookupNs),
          '',
          '',
        ],
        [
          `same, after one refresh each (${result.refreshed.sessions.toLocaleString('en-US')} sessions)`,
          formatNumber(result.refreshed.bytesPerSession),
          '',
          '',
        ],
        [
          `naive record: randomUUID() ids, Date fields, a Set per user (${result.naive.sessions.toLocaleString('en-US')} sessions)`,
          formatNumber(result.naive.bytesPerSession),
          '',
          '',
        ],
        [
          '`ESTIMATED_BYTES_PER_SESSION` in the code',
          String(result.estimatedBytesConstant),
          '',
          '',
        ],
      ],
    ),
  );
  out.push('');
  out.push(
    barChart({
      title: 'Heap bytes per session (target line: 300)',
      labels: ['this store', 'after a refresh', 'naive record'],
      yLabel: 'bytes',
      values: [
        result.bytesPerSession,
        result.refreshed.bytesPerSession,
        result.naive.bytesPerSession,
      ],
      line: [STORE_TARGET_BYTES, STORE_TARGET_BYTES, STORE_TARGET_BYTES],
    }),
  );
  out.push('');
  out.push(
    `What each part of a session costs (heap-snapshot self sizes after minus before, ${result.profile.sessions.toLocaleString('en-US')} sessions; ` +
      'hash tables and array slack shrink per session as the store grows):',
  );
  out.push('');
  out.push(
    table(
      ['part', 'bytes per session'],
      result.profile.parts.map((part) => [part.part, formatNumber(part.bytesPerSession)]),
    ),
  );
  return out.join('\n');
}
