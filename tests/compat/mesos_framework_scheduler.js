// Drives a mezzo master with mesos-framework (npm), a third-party Mesos v1
// HTTP scheduler library used unchanged: it subscribes, accepts offers to
// launch N command tasks, acknowledges their updates, and tears the framework
// down once every task reached TASK_FINISHED. Exit 0 on success, 1 otherwise.
// Usage: node mesos_framework_scheduler.js HOST PORT INSTANCES
"use strict";

const lib = require("mesos-framework");
const defaults = require("mesos-framework/lib/schedulerHandlers");
const Mesos = lib.Mesos.getMesos();

const host = process.argv[2], port = parseInt(process.argv[3], 10), n = parseInt(process.argv[4] || "3", 10);
const states = {};
let done = false;

function finish(code, why) {
  if (done) return;
  done = true;
  console.log(JSON.stringify({result: code === 0 ? "ok" : "failed", why: why, states: states}));
  process.exit(code);
}

const scheduler = new lib.Scheduler({
  masterUrl: host,
  port: port,
  frameworkName: "mesos-framework compat",
  logging: {level: "info"},
  restartStates: [],
  tasks: {
    hello: {
      priority: 1,
      instances: n,
      commandInfo: new Mesos.CommandInfo(null, null, true, "echo hello from mesos-framework", null, null),
      resources: {cpus: 0.1, mem: 32, ports: 1, disk: 0}
    }
  },
  handlers: {
    UPDATE: function (update) {
      const st = update.status;
      (states[st.task_id.value] = states[st.task_id.value] || []).push(st.state);
      defaults.UPDATE.call(this, update); // the library's own handling (acknowledgement)
      const finished = Object.values(states).filter(s => s[s.length - 1] === "TASK_FINISHED").length;
      const failed = Object.values(states).filter(s => ["TASK_FAILED", "TASK_ERROR", "TASK_LOST", "TASK_DROPPED"]
        .includes(s[s.length - 1])).length;
      if (failed > 0) finish(1, "a task failed");
      if (finished === n) {
        scheduler.teardown();
        setTimeout(() => finish(0, "all finished"), 500);
      }
    }
  }
});

scheduler.on("error", e => console.log("client error: " + (e && e.message ? e.message : JSON.stringify(e))));
scheduler.on("ready", () => scheduler.subscribe());
setTimeout(() => finish(1, "timeout"), parseInt(process.env.COMPAT_TIMEOUT_MS || "90000", 10));
