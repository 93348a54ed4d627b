'use client';

import { useState } from 'react';
import type { FormEvent } from 'react';
import { describeError } from './messages';

/**
 * A form's submit handler around `action`: `busy` while it runs, `problem` the sentence for its
 * failure (`unauthorized` for a 401, see `describeError`).
 */
export function useFormAction(action: (form: FormData) => Promise<void>, unauthorized?: string) {
  const [problem, setProblem] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    setBusy(true);
    setProblem(null);
    try {
      await action(form);
    } catch (error) {
      setProblem(describeError(error, unauthorized));
    } finally {
      setBusy(false);
    }
  }

  return { submit, problem, busy };
}
