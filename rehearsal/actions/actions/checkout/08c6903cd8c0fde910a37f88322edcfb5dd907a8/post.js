// Rehearsal stand-in for actions/checkout@08c6903cd8c0fde910a37f88322edcfb5dd907a8 (v5.0.0); see rehearsal/actions/README.md.
// Runs `python3 -m rehearsal.standins checkout.post post` with the INPUT_* environment act gives a JavaScript action.
const { spawnSync } = require("child_process");
const home = process.env.REHEARSAL_HOME;
if (!home) {
  console.log("::error::REHEARSAL_HOME is not set: pass --env REHEARSAL_HOME=<project root> to act (the rehearsal harness does)");
  process.exit(1);
}
const run = spawnSync("python3", ["-m", "rehearsal.standins", "checkout.post", "post", __dirname], {
  stdio: "inherit",
  env: { ...process.env, PYTHONPATH: home },
});
if (run.error) console.log(`::error::python3 did not start: ${run.error.message}`);
process.exit(run.status ?? 1);
