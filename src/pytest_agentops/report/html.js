/* pytest-agentops HTML report: filtering, sorting, and each test's trajectory tree (built from
   the page's JSON when the test is opened).  Every text goes in with textContent. */
(function () {
  "use strict";
  var details = JSON.parse(document.getElementById("ao-data").textContent);
  var table = document.getElementById("ao-tests");
  var bodies = Array.prototype.slice.call(table.tBodies);
  var COLUMNS = table.tHead.rows[0].cells.length;
  var RANK = { failed: 0, error: 1, xpassed: 2, passed: 3, xfailed: 4, skipped: 5 };

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function json(value) {
    if (typeof value === "string") return value;
    var text = JSON.stringify(value, null, 2);
    return text === undefined ? String(value) : text;
  }
  function clip(text, size) {
    return text.length > size ? text.slice(0, size - 1) + "\u2026" : text;
  }
  function short(value, size) {
    var text = JSON.stringify(value);
    return clip(text === undefined ? String(value) : text, size || 60);
  }
  function callText(name, args) {
    if (args === null || typeof args !== "object") return name + "(" + short(args) + ")";
    var parts = Object.keys(args).map(function (k) { return k + "=" + short(args[k], 40); });
    return name + "(" + parts.join(", ") + ")";
  }
  function ms(value) {
    if (value === null || value === undefined) return "";
    return value < 1000 ? value.toFixed(0) + " ms" : (value / 1000).toFixed(2) + " s";
  }
  function money(value) {
    if (value === null || value === undefined) return "$?";
    return "$" + value.toFixed(6);
  }
  function contentText(content) {
    if (typeof content === "string") return content;
    if (Array.isArray(content)) {
      var texts = content.map(function (part) {
        if (part && typeof part === "object" && typeof part.text === "string") return part.text;
        return json(part);
      });
      return texts.join("\n");
    }
    return json(content);
  }
  function pre(text, cls) { return el("pre", cls, text); }
  function field(parent, label, value, cls) {
    parent.appendChild(el("div", "ao-field", label));
    parent.appendChild(pre(json(value), cls));
  }

  /* ---- filtering -------------------------------------------------------------------- */
  var active = {};
  var query = "";
  var filters = Array.prototype.slice.call(document.querySelectorAll(".ao-filter"));
  var shown = document.getElementById("ao-shown");
  function applyFilter() {
    var any = Object.keys(active).length > 0;
    var count = 0;
    bodies.forEach(function (body) {
      var ok = (!any || active[body.dataset.outcome]) &&
        (!query || body.dataset.name.toLowerCase().indexOf(query) >= 0);
      body.hidden = !ok;
      if (ok) count += 1;
    });
    shown.textContent = String(count);
    filters.forEach(function (button) {
      var outcome = button.dataset.outcome;
      button.setAttribute("aria-pressed", String(outcome ? !!active[outcome] : !any));
    });
  }
  filters.forEach(function (button) {
    button.addEventListener("click", function () {
      var outcome = button.dataset.outcome;
      if (!outcome) active = {};
      else if (active[outcome]) delete active[outcome];
      else active[outcome] = true;
      applyFilter();
    });
  });
  document.getElementById("ao-search").addEventListener("input", function (event) {
    query = event.target.value.trim().toLowerCase();
    applyFilter();
  });

  /* ---- sorting ---------------------------------------------------------------------- */
  var sortKey = null;
  var sortDir = 1;
  function sortValue(body, key) {
    if (key === "name") return body.dataset.name;
    if (key === "outcome") {
      var rank = RANK[body.dataset.outcome];
      return rank === undefined ? 9 : rank;
    }
    var text = body.dataset[key];
    return text === "" ? null : parseFloat(text);
  }
  function sortBy(key) {
    sortDir = key === sortKey ? -sortDir : (key === "name" || key === "outcome" ? 1 : -1);
    sortKey = key;
    bodies.sort(function (a, b) {
      var x = sortValue(a, key);
      var y = sortValue(b, key);
      if (x === null || y === null) {
        if (x !== y) return x === null ? 1 : -1;  /* no value: last either way */
      } else if (x !== y) {
        var order = typeof x === "string" ? x.localeCompare(y) : x - y;
        if (order) return order * sortDir;
      }
      return a.dataset.i - b.dataset.i;
    });
    var fragment = document.createDocumentFragment();
    bodies.forEach(function (body) { fragment.appendChild(body); });
    table.appendChild(fragment);
    Array.prototype.forEach.call(table.tHead.querySelectorAll(".ao-sort"), function (button) {
      var on = button.dataset.key === key;
      button.parentNode.setAttribute(
        "aria-sort", on ? (sortDir > 0 ? "ascending" : "descending") : "none");
    });
  }
  Array.prototype.forEach.call(table.tHead.querySelectorAll(".ao-sort"), function (button) {
    button.addEventListener("click", function () { sortBy(button.dataset.key); });
  });

  /* ---- a test's details ------------------------------------------------------------- */
  function marks(detail) {
    var trajectory = detail.trajectory || {};
    var steps = trajectory.steps || [];
    var numberOf = {};
    steps.forEach(function (step, i) { numberOf[step.id] = i + 1; });
    var found = {};
    function add(number, kind, text) {
      if (!number || number < 1 || number > steps.length) return;
      (found[number] = found[number] || []).push({ kind: kind, text: text });
    }
    (detail.violations || []).forEach(function (v) {
      var number = v.step || numberOf[v.step_id];
      add(number, "violation", "[" + v.rule_id + "] " + v.message);
    });
    if (detail.failure && detail.failure.step) add(detail.failure.step, "failing", "the failure");
    return found;
  }

  function timing(step, start, span) {
    var box = el("span", "ao-bar");
    var offset = start === null || !step.started_at ? NaN : Date.parse(step.started_at) - start;
    if (!span || isNaN(offset)) {
      box.style.visibility = "hidden";  /* no timing: the columns stay aligned */
      return box;
    }
    var bar = el("span");
    var width = Math.max(0, (step.duration_ms || 0) / span * 100);
    var left = Math.min(100, Math.max(0, offset / span * 100));
    bar.style.left = left + "%";
    bar.style.width = Math.min(width, 100 - left) + "%";
    box.title = "starts at +" + ms(offset) + (step.duration_ms ? ", takes " + ms(step.duration_ms) : "");
    box.appendChild(bar);
    return box;
  }

  function label(step) {
    if (step.kind === "tool") {
      var text = callText(step.name, step.arguments);
      return step.error !== null && step.error !== undefined
        ? text + "  !! " + clip(String(step.error), 80)
        : text + " \u2192 " + short(step.result, 60);
    }
    if (step.kind === "llm") {
      var parts = [step.model, (step.input_tokens || 0) + "\u2192" + (step.output_tokens || 0) + " tok",
        money(step.cost_usd)];
      if (step.error) parts.push("!! " + clip(String(step.error), 80));
      else if ((step.requested_tool_calls || []).length) {
        parts.push("asks " + step.requested_tool_calls.map(function (c) { return c.name; }).join(", "));
      } else if (step.output_message && step.output_message.content) {
        parts.push("says " + short(contentText(step.output_message.content), 70));
      }
      return parts.join("  ");
    }
    if (step.kind === "message") return step.role + ": " + short(contentText(step.content), 80);
    return step.name + (step.error ? "  !! " + clip(String(step.error), 80) : "");
  }

  function stepBody(step, body) {
    if (step.kind === "tool") {
      field(body, "arguments", step.arguments || {});
      if (step.error !== null && step.error !== undefined) field(body, "error", step.error, "ao-error-text");
      else field(body, "result", step.result === undefined ? null : step.result);
      var facts = [];
      if (step.call_id) facts.push("call id " + step.call_id);
      if (step.source) facts.push("seen in the " + step.source);
      if (facts.length) body.appendChild(el("div", "ao-field", facts.join(" \u00b7 ")));
    } else if (step.kind === "llm") {
      var info = [step.provider, "tokens " + (step.input_tokens || 0) + " in / " + (step.output_tokens || 0) +
        " out" + (step.cached_tokens ? " (" + step.cached_tokens + " cached)" : ""),
        "cost " + (step.cost_usd === null || step.cost_usd === undefined ? "unknown (no price)" : money(step.cost_usd)),
        step.response_id].filter(Boolean);
      body.appendChild(el("div", "ao-field", info.join(" \u00b7 ")));
      var messages = step.input_messages || [];
      var inputs = el("details", "ao-messages");
      inputs.appendChild(el("summary", "ao-field", messages.length + " input message" + (messages.length === 1 ? "" : "s")));
      messages.forEach(function (message) {
        inputs.appendChild(el("div", "ao-msg-role", message.role || "?"));
        var text = contentText(message.content === undefined ? null : message.content);
        if (message.tool_calls) text += (text ? "\n" : "") + "tool calls: " + json(message.tool_calls);
        inputs.appendChild(pre(text));
      });
      body.appendChild(inputs);
      var said = step.output_message && step.output_message.content;
      if (said !== null && said !== undefined && said !== "") {
        body.appendChild(el("div", "ao-field", "output (" + (step.output_message.role || "assistant") + ")"));
        body.appendChild(pre(contentText(said)));
      }
      (step.requested_tool_calls || []).forEach(function (call) {
        body.appendChild(el("div", "ao-field", "asks for " + (call.id ? call.id + " " : "")));
        body.appendChild(pre(callText(call.name, call.arguments)));
      });
      if (step.error) field(body, "error", step.error, "ao-error-text");
    } else if (step.kind === "message") {
      field(body, step.role, contentText(step.content));
    } else {
      if (step.attributes && Object.keys(step.attributes).length) field(body, "attributes", step.attributes);
      if (step.error) field(body, "error", step.error, "ao-error-text");
    }
  }

  function tree(index, detail, found) {
    var trajectory = detail.trajectory || {};
    var steps = trajectory.steps || [];
    var start = trajectory.started_at ? Date.parse(trajectory.started_at) : null;
    var end = trajectory.ended_at ? Date.parse(trajectory.ended_at) : null;
    if (start !== null && isNaN(start)) start = null;
    var span = start !== null && end !== null && !isNaN(end) ? end - start : 0;
    if (start !== null) {  /* a step given its own duration may end after the trajectory */
      steps.forEach(function (step) {
        var at = step.started_at ? Date.parse(step.started_at) - start : NaN;
        if (!isNaN(at)) span = Math.max(span, at + (step.duration_ms || 0));
      });
    }
    var nodes = {};
    var root = el("div", "ao-tree");
    steps.forEach(function (step, i) {
      var number = i + 1;
      var node = el("details", "ao-step ao-step--" + step.kind);
      node.id = "ao-t" + index + "-s" + number;
      node.dataset.step = String(number);
      if (step.error !== null && step.error !== undefined) node.classList.add("ao-step--error");
      var summary = el("summary");
      summary.appendChild(el("span", "ao-stepno", "#" + number));
      summary.appendChild(el("span", "ao-kind", step.kind));
      summary.appendChild(el("span", "ao-label", label(step)));
      var body = el("div", "ao-body");
      (found[number] || []).forEach(function (mark) {
        node.classList.add("ao-step--" + (mark.kind === "violation" ? "violating" : "failing"));
        summary.appendChild(el("span", "ao-flag ao-flag--" + mark.kind, mark.kind === "violation" ? "violation" : "failed here"));
        if (mark.kind === "violation") body.appendChild(el("div", "ao-field ao-error-text", mark.text));
        node.open = true;
      });
      summary.appendChild(el("span", "ao-time", ms(step.duration_ms)));
      summary.appendChild(timing(step, start, span));
      node.appendChild(summary);
      stepBody(step, body);
      node.appendChild(body);
      nodes[step.id] = { node: node, body: body };
      var parent = step.parent_id && nodes[step.parent_id];
      (parent ? parent.body : root).appendChild(node);
    });
    /* a highlighted step is shown: its enclosing spans open */
    Array.prototype.forEach.call(root.querySelectorAll(".ao-step[open]"), function (node) {
      for (var up = node.parentNode; up && up !== root; up = up.parentNode) {
        if (up.tagName === "DETAILS") up.open = true;
      }
    });
    if (!steps.length) root.appendChild(el("p", "ao-note", "no steps were recorded"));
    return root;
  }

  function reveal(index, number) {
    var node = document.getElementById("ao-t" + index + "-s" + number);
    if (!node) return;
    for (var up = node; up; up = up.parentNode) if (up.tagName === "DETAILS") up.open = true;
    node.classList.add("ao-step--flash");
    setTimeout(function () { node.classList.remove("ao-step--flash"); }, 1500);
    node.scrollIntoView({ block: "center" });
  }

  function panel(index) {
    var detail = details[index] || {};
    var found = marks(detail);
    var box = el("div", "ao-panel");
    var failure = detail.failure;
    if (failure) {
      var section = el("section", "ao-failure");
      section.appendChild(el("h3", null, "Failure" + (failure.where ? " at " + failure.where : "")));
      section.appendChild(pre(failure.message));
      if (failure.step) {
        var goto = el("button", "ao-goto", "show step " + failure.step);
        goto.type = "button";
        goto.dataset.step = String(failure.step);
        section.appendChild(goto);
      }
      box.appendChild(section);
    }
    var violations = detail.violations || [];
    if (violations.length) {
      box.appendChild(el("h3", null, "Policy violations (" + violations.length + ")"));
      var list = el("ul", "ao-violations");
      violations.forEach(function (v) {
        var item = el("li", "ao-violation");
        item.appendChild(el("span", "ao-rule", "[" + v.rule_id + "]"));
        item.appendChild(document.createTextNode(" " + (v.step ? "step " + v.step + ": " : "") + v.message));
        if (v.policy) item.appendChild(el("small", null, " (policy " + v.policy + ")"));
        if (v.step) {
          var button = el("button", "ao-goto", "show step");
          button.type = "button";
          button.dataset.step = String(v.step);
          item.appendChild(button);
        }
        list.appendChild(item);
      });
      box.appendChild(list);
    }
    var verdicts = detail.verdicts || [];
    if (verdicts.length) {
      box.appendChild(el("h3", null, "Judge verdicts (" + verdicts.length + ")"));
      var grid = el("table", "ao-grid ao-verdicts");
      var head = grid.createTHead().insertRow();
      ["criteria", "score", "threshold", "result", "model", "reasoning"].forEach(function (name) {
        head.appendChild(el("th", null, name));
      });
      var rows = grid.createTBody();
      verdicts.forEach(function (v) {
        var row = rows.insertRow();
        row.appendChild(el("td", null, v.criteria));
        row.appendChild(el("td", "ao-num" + (v.passed ? "" : " ao-bad"), Number(v.score).toFixed(2) +
          (v.samples > 1 ? " (" + v.samples + " samples, spread " + Number(v.spread).toFixed(2) + ")" : "")));
        row.appendChild(el("td", "ao-num", Number(v.threshold).toFixed(2)));
        row.appendChild(el("td", v.passed ? null : "ao-bad", v.passed ? "passed" : "failed"));
        row.appendChild(el("td", null, v.model));
        row.appendChild(el("td", null, v.reasoning));
      });
      box.appendChild(grid);
    }
    var trajectory = detail.trajectory || {};
    var steps = trajectory.steps || [];
    box.appendChild(el("h3", null, "Trajectory" + (trajectory.name ? " " + trajectory.name : "") +
      " (" + steps.length + " step" + (steps.length === 1 ? "" : "s") + ")"));
    if (trajectory.input !== null && trajectory.input !== undefined) field(box, "input", trajectory.input);
    var actions = el("div", "ao-actions");
    ["expand all", "collapse all"].forEach(function (text) {
      var button = el("button", "ao-all", text);
      button.type = "button";
      button.dataset.open = String(text === "expand all");
      actions.appendChild(button);
    });
    box.appendChild(actions);
    box.appendChild(tree(index, detail, found));
    if (trajectory.output !== null && trajectory.output !== undefined) field(box, "output", trajectory.output);
    if (trajectory.metadata && Object.keys(trajectory.metadata).length) field(box, "metadata", trajectory.metadata);
    box.addEventListener("click", function (event) {
      var target = event.target;
      if (target.classList.contains("ao-goto")) reveal(index, target.dataset.step);
      if (target.classList.contains("ao-all")) {
        Array.prototype.forEach.call(box.querySelectorAll("details"), function (node) {
          node.open = target.dataset.open === "true";
        });
      }
    });
    return box;
  }

  function toggle(body, open) {
    var button = body.querySelector(".ao-toggle");
    var row = body.querySelector(".ao-detail");
    if (open === undefined) open = button.getAttribute("aria-expanded") !== "true";
    if (open && !row) {
      row = el("tr", "ao-detail");
      var cell = el("td");
      cell.colSpan = COLUMNS;
      cell.appendChild(panel(Number(body.dataset.i)));
      row.appendChild(cell);
      body.appendChild(row);
    }
    if (row) row.hidden = !open;
    button.setAttribute("aria-expanded", String(open));
  }
  table.addEventListener("click", function (event) {
    var button = event.target.closest(".ao-toggle");
    if (button) toggle(button.closest("tbody"));
    else if (event.target.closest(".ao-name") && event.target.closest(".ao-row")) {
      toggle(event.target.closest("tbody"));
    }
  });

  /* ---- #ao-test-N (a link to a test) opens that test ------------------------------------ */
  function openFromHash() {
    var match = /^#ao-test-(\d+)$/.exec(location.hash);
    var body = match && document.getElementById("ao-test-" + match[1]);
    if (body) {
      toggle(body, true);
      body.scrollIntoView();
    }
  }
  window.addEventListener("hashchange", openFromHash);
  openFromHash();
})();
