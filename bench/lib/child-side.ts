import type { ChildMessage } from './children';

export type Handler = (args: unknown) => unknown;

/** The JSON config a bench child was started with (see `startChild`). */
export function childConfig<T extends { port: number }>(): T {
  return JSON.parse(process.argv[2] ?? '{}') as T;
}

function send(message: ChildMessage): void {
  process.send?.(message);
}

/**
 * Serves the parent's commands over IPC; `exit` runs `onExit` first (closing the app lets
 * `--cpu-prof` write its profile).
 */
export function serveCommands(
  handlers: Record<string, Handler>,
  onExit: () => Promise<void>,
): void {
  process.on('message', (message: { id: number; command: string; args?: unknown }) => {
    if (message.command === 'exit') {
      void onExit().finally(() => process.exit(0));
      return;
    }
    const handler = handlers[message.command];
    void (async () => {
      try {
        if (!handler) throw new Error(`unknown command ${message.command}`);
        send({ type: 'reply', id: message.id, ok: true, result: await handler(message.args) });
      } catch (error) {
        send({
          type: 'reply',
          id: message.id,
          ok: false,
          error: error instanceof Error ? error.message : String(error),
        });
      }
    })();
  });
  // The parent going away (Ctrl-C, crash) must not leave servers behind.
  process.on('disconnect', () => void onExit().finally(() => process.exit(0)));
}

export function reportReady(port: number, info: Record<string, unknown> = {}): void {
  send({ type: 'ready', port, info });
}

export function reportFailure(error: unknown): void {
  const message = error instanceof Error ? error.message : String(error);
  if (process.send) {
    send({ type: 'failed', message });
    setTimeout(() => process.exit(1), 100);
  } else {
    console.error(message);
    process.exit(1);
  }
}
