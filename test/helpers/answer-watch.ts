/**
 * A vitest setup file of every test project: every answer and event payload of a ConsoleApi in
 * the test's process is held to its schema (src-main/api/answer-check.ts), and a test during which
 * one did not match fails, even when it never looked at that answer.
 */
import { afterEach } from 'vitest';
import { watchAnswers, type AnswerProblem } from '../../src-main/api/answer-check';

const seen: AnswerProblem[] = [];
watchAnswers((p) => void seen.push(p));

afterEach(() => {
  const found = seen.splice(0);
  if (found.length === 0) return;
  // Each distinct problem once, shortened: a stream repeats the same one at every event.
  const lines = [...new Set(found.map((p) => `  ${p.kind} ${p.name}: ${p.problem.slice(0, 400)}`))];
  throw new Error(`The console API answered outside its contract (${found.length} times):\n${lines.slice(0, 5).join('\n')}`);
});
