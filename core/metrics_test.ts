import assert from "node:assert/strict";
import { escapeLabelValue, formatValue, Histogram, MetricsRegistry } from "./metrics.ts";

Deno.test("MetricsRegistry.render() writes HELP, TYPE and one line per collected sample", () => {
  const registry = new MetricsRegistry();
  let sent = 2;
  registry.counter("app_sent_total", "Lines sent.", () => [{ value: sent }]);
  registry.gauge("app_sessions", "Sessions open\nnow, by \\ frontend.", () => [
    { labels: { frontend: "tcp" }, value: 3 },
    { labels: { frontend: "ssh" }, value: 0 },
  ]);
  sent = 5;
  assert.equal(
    registry.render(),
    [
      "# HELP app_sent_total Lines sent.",
      "# TYPE app_sent_total counter",
      "app_sent_total 5",
      "# HELP app_sessions Sessions open\\nnow, by \\\\ frontend.",
      "# TYPE app_sessions gauge",
      'app_sessions{frontend="tcp"} 3',
      'app_sessions{frontend="ssh"} 0',
      "",
    ].join("\n"),
  );
});

Deno.test("escapeLabelValue() escapes backslash, double quote and line feed", () => {
  assert.equal(escapeLabelValue('a\\b"c\nd'), 'a\\\\b\\"c\\nd');
  const registry = new MetricsRegistry();
  registry.gauge("peer_lag", "Lag.", () => [{ labels: { peer: 'x"\n' }, value: 1 }]);
  assert.match(registry.render(), /^peer_lag\{peer="x\\"\\n"\} 1$/m);
});

Deno.test("Histogram counts cumulatively per bucket, with +Inf, sum and count", () => {
  const registry = new MetricsRegistry();
  const delay = registry.histogram("app_delay_seconds", "Delay.", [0.01, 0.1, 1]);
  for (const value of [0.005, 0.01, 0.05, 2, NaN]) delay.observe(value);
  assert.deepEqual(delay.lines("app_delay_seconds"), [
    'app_delay_seconds_bucket{le="0.01"} 2',
    'app_delay_seconds_bucket{le="0.1"} 3',
    'app_delay_seconds_bucket{le="1"} 3',
    'app_delay_seconds_bucket{le="+Inf"} 4',
    "app_delay_seconds_sum 2.065",
    "app_delay_seconds_count 4",
  ]);
  assert.equal(delay.count, 4);
});

Deno.test("MetricsRegistry refuses a taken or malformed name, a counter without _total, bad labels", () => {
  const registry = new MetricsRegistry();
  registry.gauge("a", "A.", () => []);
  assert.throws(() => registry.gauge("a", "A again.", () => []), /name is taken/);
  assert.throws(() => registry.gauge("1a", "Digit first.", () => []), TypeError);
  assert.throws(() => registry.counter("sent", "No suffix.", () => []), /ends in _total/);
  assert.throws(() => new Histogram([1, 1]), RangeError);
  registry.gauge("b", "B.", () => [{ labels: { "bad-name": "x" }, value: 1 }]);
  assert.throws(() => registry.render(), /Invalid label name/);
});

Deno.test("formatValue() writes infinities and NaN as the format spells them", () => {
  assert.deepEqual([Infinity, -Infinity, NaN, 1.5, 0].map(formatValue), [
    "+Inf",
    "-Inf",
    "NaN",
    "1.5",
    "0",
  ]);
});
