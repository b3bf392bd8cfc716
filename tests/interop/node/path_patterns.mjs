// authkit-nextjs 4.3's path matching (src/session.ts, getMiddlewareAuthPathRegex) on a corpus read from stdin:
// {"cases": [{"pattern": ..., "paths": [...]}], "decoded": [...]}. For each case it prints whether the pattern
// compiles (the error otherwise), its URL form and which paths match; for each decoded path, the pathname a
// browser would send for it (its "%", "?", "#", "\", space and C0 controls escaped first: the server decoded them).
import { parse, tokensToRegexp } from 'path-to-regexp';

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const input = JSON.parse(Buffer.concat(chunks).toString('utf8'));

function compile(pattern) {
  // exactly authkit-nextjs's steps
  const url = new URL(pattern, 'https://example.com');
  const path = `${url.pathname}${url.hash || ''}`;
  const tokens = parse(path);
  const regex = tokensToRegexp(tokens).source;
  return { form: path, regex: new RegExp(regex) };
}

const cases = input.cases.map(({ pattern, paths }) => {
  let compiled;
  try {
    compiled = compile(pattern);
  } catch (err) {
    return { error: String(err && err.message ? err.message : err) };
  }
  return { form: compiled.form, source: compiled.regex.source, matches: paths.map((p) => compiled.regex.exec(p) !== null) };
});

const escape = (s) => s.replace(/[%?#\\\x00-\x20]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0'));
const decoded = (input.decoded || []).map((d) => new URL('https://example.com' + escape(d)).pathname);

process.stdout.write(JSON.stringify({ cases, decoded }));
