// ebmpc replay viewer: draws recorded episodes (the format of src/replay.rs) on a canvas with a
// small perspective renderer (z up, painter's algorithm, flat shading). No libraries, no network.
// Every `.replay-viewer` element reads its episodes from the JSON script named by data-source.
// After the first draw of every viewer, <body data-viewer="ready">; errors go to #viewer-error
// (through window.ebmpcReportError, installed by the page before this script).
(function () {
  "use strict";

  var report = window.ebmpcReportError || function (msg) { throw new Error(msg); };

  // ---- small vector helpers (arrays of 3 numbers) ----
  function add(a, b) { return [a[0] + b[0], a[1] + b[1], a[2] + b[2]]; }
  function sub(a, b) { return [a[0] - b[0], a[1] - b[1], a[2] - b[2]]; }
  function scale(a, s) { return [a[0] * s, a[1] * s, a[2] * s]; }
  function dot(a, b) { return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]; }
  function cross(a, b) {
    return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
  }
  function norm(a) { var l = Math.sqrt(dot(a, a)) || 1; return scale(a, 1 / l); }
  function num(v) { return typeof v === "number" && isFinite(v) ? v : NaN; }
  function vec(v) { return [num(v && v[0]) || 0, num(v && v[1]) || 0, num(v && v[2]) || 0]; }
  function fmt(v, digits) { v = num(v); return isFinite(v) ? v.toFixed(digits) : "–"; }
  function fmtSig(v) {
    v = num(v);
    if (!isFinite(v)) return "–";
    var a = Math.abs(v);
    return a !== 0 && (a < 1e-3 || a >= 1e5) ? v.toExponential(2) : v.toPrecision(4);
  }

  // Rotates v by the unit quaternion q = [x, y, z, w].
  function rotate(q, v) {
    var u = [num(q[0]) || 0, num(q[1]) || 0, num(q[2]) || 0];
    var w = isFinite(num(q[3])) ? q[3] : 1;
    var t = scale(cross(u, v), 2);
    return add(add(v, scale(t, w)), cross(u, t));
  }

  // ---- colours ----
  function rgb(hex) {
    var n = parseInt(hex.slice(1), 16);
    return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
  }
  function css(c, k, alpha) {
    var r = Math.min(255, Math.round(c[0] * k)), g = Math.min(255, Math.round(c[1] * k));
    var b = Math.min(255, Math.round(c[2] * k));
    return alpha === undefined ? "rgb(" + r + "," + g + "," + b + ")"
      : "rgba(" + r + "," + g + "," + b + "," + alpha + ")";
  }
  var COLORS = {
    table: rgb("#d8c8a8"), tableEdge: rgb("#a08a64"), palm: rgb("#6b7f99"), finger: rgb("#49566b"),
    cube: rgb("#d1495b"), goal: "#13a36e", plan: "#f08c00", trail: "#5c6b80", grid: "rgba(90,70,40,0.16)",
    workspace: "rgba(40,60,90,0.55)", workspaceTop: "rgba(40,60,90,0.3)"
  };
  var LIGHT = norm([0.35, -0.55, 0.9]);

  // ---- geometry ----
  // Corner i of a box has sign bits (x: 1, y: 2, z: 4); each face lists 4 corners and its normal.
  var FACES = [
    [[0, 2, 6, 4], [-1, 0, 0]], [[1, 5, 7, 3], [1, 0, 0]],
    [[0, 4, 5, 1], [0, -1, 0]], [[2, 3, 7, 6], [0, 1, 0]],
    [[0, 1, 3, 2], [0, 0, -1]], [[4, 6, 7, 5], [0, 0, 1]]
  ];
  function boxCorners(center, half, q) {
    var out = [];
    for (var i = 0; i < 8; i++) {
      var local = [(i & 1 ? 1 : -1) * half[0], (i & 2 ? 1 : -1) * half[1], (i & 4 ? 1 : -1) * half[2]];
      out.push(add(center, q ? rotate(q, local) : local));
    }
    return out;
  }
  // Visible faces of a box as polygons {pts, color, depth}, pushed onto `polys`.
  function boxFaces(polys, cam, center, half, q, color) {
    var corners = boxCorners(center, half, q);
    for (var f = 0; f < FACES.length; f++) {
      var n = q ? rotate(q, FACES[f][1]) : FACES[f][1];
      var mid = [0, 0, 0];
      var idx = FACES[f][0];
      for (var k = 0; k < 4; k++) mid = add(mid, scale(corners[idx[k]], 0.25));
      if (dot(n, sub(cam.eye, mid)) <= 0) continue;
      var shade = 0.55 + 0.5 * Math.max(0, dot(n, LIGHT));
      polys.push({
        pts: idx.map(function (k) { return corners[k]; }),
        fill: css(color, shade), stroke: css(color, shade * 0.7), depth: cam.depth(mid)
      });
    }
  }
  // Convex hull (monotone chain) of 2D points.
  function hull(pts) {
    pts = pts.slice().sort(function (a, b) { return a[0] - b[0] || a[1] - b[1]; });
    function turn(o, a, b) { return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]); }
    var lower = [], upper = [], i;
    for (i = 0; i < pts.length; i++) {
      while (lower.length >= 2 && turn(lower[lower.length - 2], lower[lower.length - 1], pts[i]) <= 0) lower.pop();
      lower.push(pts[i]);
    }
    for (i = pts.length - 1; i >= 0; i--) {
      while (upper.length >= 2 && turn(upper[upper.length - 2], upper[upper.length - 1], pts[i]) <= 0) upper.pop();
      upper.push(pts[i]);
    }
    return lower.slice(0, -1).concat(upper.slice(0, -1));
  }

  // ---- camera ----
  function camera(view, target, w, h) {
    var cp = Math.cos(view.pitch);
    var eye = add(target, scale([cp * Math.cos(view.yaw), cp * Math.sin(view.yaw), Math.sin(view.pitch)], view.dist));
    var fwd = norm(sub(target, eye));
    var right = norm(cross(fwd, [0, 0, 1]));
    var up = cross(right, fwd);
    var focal = 0.5 * h / Math.tan(0.5 * 40 * Math.PI / 180);
    return {
      eye: eye,
      focal: focal,
      depth: function (p) { return dot(sub(p, eye), fwd); },
      project: function (p) {
        var d = sub(p, eye);
        var z = Math.max(1e-3, dot(d, fwd));
        return [w / 2 + focal * dot(d, right) / z, h / 2 - focal * dot(d, up) / z, z];
      }
    };
  }

  function pathOf(ctx, cam, pts, close) {
    ctx.beginPath();
    for (var i = 0; i < pts.length; i++) {
      var s = cam.project(pts[i]);
      if (i === 0) ctx.moveTo(s[0], s[1]); else ctx.lineTo(s[0], s[1]);
    }
    if (close) ctx.closePath();
  }

  // ---- one viewer ----
  function Viewer(root) {
    var source = document.getElementById(root.dataset.source);
    if (!source) throw new Error("replay data element #" + root.dataset.source + " is missing");
    var episodes = JSON.parse(source.textContent);
    if (!Array.isArray(episodes) || episodes.length === 0) throw new Error("no replays in #" + root.dataset.source);
    this.root = root;
    this.episodes = episodes;
    this.canvas = root.querySelector(".viewer-canvas");
    this.timeline = root.querySelector(".viewer-timeline");
    this.select = root.querySelector(".viewer-episode");
    this.play = root.querySelector(".viewer-play");
    this.slider = root.querySelector(".viewer-step");
    this.label = root.querySelector(".viewer-step-label");
    this.stats = root.querySelector(".viewer-stats");
    if (!this.canvas || !this.canvas.getContext) throw new Error("the viewer canvas is missing");
    this.ep = 0;
    this.step = 0;
    this.playing = false;
    this.resetView();
    this.bind();
    this.setEpisode(0);
  }

  // `#episode=E&step=S` in the page address opens the first viewer at that episode and step.
  Viewer.prototype.openFromHash = function () {
    var m = /episode=(\d+)/.exec(window.location.hash), k = /step=(\d+)/.exec(window.location.hash);
    if (m) this.setEpisode(+m[1]);
    if (k) this.setStep(+k[1]);
  };

  Viewer.prototype.resetView = function () {
    this.view = { yaw: -1.15, pitch: 0.55, dist: 0.9 };
  };

  Viewer.prototype.episode = function () { return this.episodes[this.ep]; };

  Viewer.prototype.setEpisode = function (i) {
    this.ep = Math.max(0, Math.min(this.episodes.length - 1, i | 0));
    var steps = this.episode().steps || [];
    this.slider.max = String(Math.max(0, steps.length - 1));
    if (this.select) this.select.value = String(this.ep);
    this.setStep(0);
  };

  Viewer.prototype.setStep = function (i) {
    var n = (this.episode().steps || []).length;
    this.step = Math.max(0, Math.min(n - 1, i | 0));
    this.slider.value = String(this.step);
    this.draw();
  };

  Viewer.prototype.setPlaying = function (on) {
    var n = (this.episode().steps || []).length;
    if (on && this.step >= n - 1) this.setStep(0);
    this.playing = on;
    this.play.textContent = on ? "Pause" : "Play";
    if (on) {
      var self = this, last = null;
      var tick = function (t) {
        if (!self.playing) return;
        if (last === null) last = t;
        if (t - last >= 100) {
          last = t;
          if (self.step >= (self.episode().steps || []).length - 1) { self.setPlaying(false); return; }
          self.setStep(self.step + 1);
        }
        window.requestAnimationFrame(tick);
      };
      window.requestAnimationFrame(tick);
    }
  };

  Viewer.prototype.bind = function () {
    var self = this, c = this.canvas;
    if (this.select) this.select.addEventListener("change", function () { self.setPlaying(false); self.setEpisode(+self.select.value); });
    this.play.addEventListener("click", function () { self.setPlaying(!self.playing); });
    this.slider.addEventListener("input", function () { self.setPlaying(false); self.setStep(+self.slider.value); });
    var drag = null;
    c.addEventListener("pointerdown", function (e) { drag = [e.clientX, e.clientY]; c.setPointerCapture(e.pointerId); });
    c.addEventListener("pointermove", function (e) {
      if (!drag) return;
      self.view.yaw -= (e.clientX - drag[0]) * 0.01;
      self.view.pitch = Math.max(0.05, Math.min(1.5, self.view.pitch + (e.clientY - drag[1]) * 0.01));
      drag = [e.clientX, e.clientY];
      self.draw();
    });
    var end = function () { drag = null; };
    c.addEventListener("pointerup", end);
    c.addEventListener("pointercancel", end);
    c.addEventListener("wheel", function (e) {
      e.preventDefault();
      self.view.dist = Math.max(0.3, Math.min(4, self.view.dist * Math.exp(e.deltaY * 0.001)));
      self.draw();
    }, { passive: false });
    c.addEventListener("dblclick", function () { self.resetView(); self.draw(); });
    c.addEventListener("keydown", function (e) {
      if (e.key === "ArrowRight") { self.setPlaying(false); self.setStep(self.step + 1); e.preventDefault(); }
      else if (e.key === "ArrowLeft") { self.setPlaying(false); self.setStep(self.step - 1); e.preventDefault(); }
      else if (e.key === " ") { self.setPlaying(!self.playing); e.preventDefault(); }
    });
    if (this.timeline) {
      var seek = function (e) {
        var r = self.timeline.getBoundingClientRect();
        var n = (self.episode().steps || []).length;
        self.setPlaying(false);
        self.setStep(Math.round((e.clientX - r.left - 8) / Math.max(1, r.width - 16) * (n - 1)));
      };
      var seeking = false;
      this.timeline.addEventListener("pointerdown", function (e) { seeking = true; self.timeline.setPointerCapture(e.pointerId); seek(e); });
      this.timeline.addEventListener("pointermove", function (e) { if (seeking) seek(e); });
      this.timeline.addEventListener("pointerup", function () { seeking = false; });
    }
    window.addEventListener("resize", function () { self.draw(); });
  };

  // Sizes a canvas's backing store to its CSS box and returns [ctx, width, height] in CSS px.
  function fit(canvas, aspect) {
    var dpr = window.devicePixelRatio || 1;
    var w = canvas.clientWidth || canvas.width;
    var h = aspect ? Math.round(w / aspect) : (canvas.clientHeight || canvas.height);
    if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
      canvas.width = Math.round(w * dpr);
      canvas.height = Math.round(h * dpr);
    }
    var ctx = canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    return [ctx, w, h];
  }

  Viewer.prototype.draw = function () {
    var ep = this.episode(), steps = ep.steps || [], s = steps[this.step];
    if (!s) throw new Error("episode " + this.ep + " has no step " + this.step);
    var sc = ep.scene || {};
    var f = fit(this.canvas, 16 / 9), ctx = f[0], w = f[1], h = f[2];
    var wmin = vec(sc.workspace_min), wmax = vec(sc.workspace_max);
    var target = [(wmin[0] + wmax[0]) / 2, (wmin[1] + wmax[1]) / 2, 0.06];
    var cam = camera(this.view, target, w, h);

    var sky = ctx.createLinearGradient(0, 0, 0, h);
    sky.addColorStop(0, "#f7f9fc");
    sky.addColorStop(1, "#dde4ee");
    ctx.fillStyle = sky;
    ctx.fillRect(0, 0, w, h);

    // Table: a slab a little larger than the workspace, its own faces sorted first.
    var margin = 0.1, polys = [];
    var tc = [target[0], target[1], -0.02];
    var th = [(wmax[0] - wmin[0]) / 2 + margin, (wmax[1] - wmin[1]) / 2 + margin, 0.02];
    boxFaces(polys, cam, tc, th, null, COLORS.table);
    this.fill(ctx, cam, polys);

    ctx.lineWidth = 1;
    ctx.strokeStyle = COLORS.grid;
    for (var gx = Math.ceil(wmin[0] / 0.05) * 0.05; gx <= wmax[0] + 1e-9; gx += 0.05) {
      pathOf(ctx, cam, [[gx, wmin[1], 0], [gx, wmax[1], 0]]);
      ctx.stroke();
    }
    for (var gy = Math.ceil(wmin[1] / 0.05) * 0.05; gy <= wmax[1] + 1e-9; gy += 0.05) {
      pathOf(ctx, cam, [[wmin[0], gy, 0], [wmax[0], gy, 0]]);
      ctx.stroke();
    }
    // Workspace: solid footprint on the table, dashed walls and top.
    ctx.strokeStyle = COLORS.workspace;
    ctx.lineWidth = 1.5;
    var z0 = Math.max(0, wmin[2]), z1 = wmax[2];
    var foot = [[wmin[0], wmin[1], z0], [wmax[0], wmin[1], z0], [wmax[0], wmax[1], z0], [wmin[0], wmax[1], z0]];
    pathOf(ctx, cam, foot, true);
    ctx.stroke();
    ctx.setLineDash([5, 4]);
    ctx.lineWidth = 1;
    ctx.strokeStyle = COLORS.workspaceTop;
    pathOf(ctx, cam, foot.map(function (p) { return [p[0], p[1], z1]; }), true);
    ctx.stroke();
    foot.forEach(function (p) { pathOf(ctx, cam, [p, [p[0], p[1], z1]]); ctx.stroke(); });
    ctx.setLineDash([]);

    // Bodies of this step.
    var palm = vec(s.palm), palmHalf = vec(sc.palm_half), fh = vec(sc.finger_half);
    var gap = num(s.finger_gap) || 0;
    var fingerDx = gap / 2 + fh[0], fingerDz = -(palmHalf[2] + fh[2]);
    var cubeHalf = (num(sc.cube_size) || 0.04) / 2;
    var cube = vec(s.cube_pos), q = s.cube_quat || [0, 0, 0, 1];
    var bodies = [
      [cube, [cubeHalf, cubeHalf, cubeHalf], q, COLORS.cube],
      [palm, palmHalf, null, COLORS.palm],
      [add(palm, [-fingerDx, 0, fingerDz]), fh, null, COLORS.finger],
      [add(palm, [fingerDx, 0, fingerDz]), fh, null, COLORS.finger]
    ];

    // Shadows straight down onto the table.
    ctx.fillStyle = "rgba(40,30,20,0.18)";
    bodies.forEach(function (b) {
      var pts = hull(boxCorners(b[0], b[1], b[2]).map(function (p) { return [p[0], p[1]]; }));
      pathOf(ctx, cam, pts.map(function (p) { return [p[0], p[1], 0.0005]; }), true);
      ctx.fill();
    });

    // Goal: a cross on the table and a dashed drop line (the marker itself is drawn last).
    var goal = vec(ep.goal);
    ctx.strokeStyle = COLORS.goal;
    ctx.lineWidth = 2;
    var gr = 0.02;
    pathOf(ctx, cam, [[goal[0] - gr, goal[1], 0.001], [goal[0] + gr, goal[1], 0.001]]); ctx.stroke();
    pathOf(ctx, cam, [[goal[0], goal[1] - gr, 0.001], [goal[0], goal[1] + gr, 0.001]]); ctx.stroke();
    ctx.setLineDash([3, 3]);
    ctx.lineWidth = 1;
    pathOf(ctx, cam, [[goal[0], goal[1], 0], goal]); ctx.stroke();
    ctx.setLineDash([]);

    // Palm path so far.
    if (this.step > 0) {
      ctx.strokeStyle = COLORS.trail;
      ctx.lineWidth = 1.5;
      pathOf(ctx, cam, steps.slice(0, this.step + 1).map(function (st) { return vec(st.palm); }));
      ctx.stroke();
    }

    polys = [];
    bodies.forEach(function (b) { boxFaces(polys, cam, b[0], b[1], b[2], b[3]); });
    this.fill(ctx, cam, polys);

    // The plan's intended palm path, from the palm.
    var plan = (s.planned_palm || []).map(vec);
    if (plan.length > 0) {
      var line = [palm].concat(plan);
      ctx.strokeStyle = COLORS.plan;
      ctx.lineWidth = 2.5;
      ctx.lineJoin = "round";
      pathOf(ctx, cam, line);
      ctx.stroke();
      ctx.fillStyle = COLORS.plan;
      plan.forEach(function (p, i) {
        var sp = cam.project(p);
        ctx.beginPath();
        ctx.arc(sp[0], sp[1], i === plan.length - 1 ? 4.5 : 2.5, 0, 2 * Math.PI);
        ctx.fill();
      });
    }

    // Goal marker: a ring sized as a 1.5 cm sphere.
    var g = cam.project(goal), rad = Math.max(4, cam.focal * 0.015 / g[2]);
    ctx.beginPath();
    ctx.arc(g[0], g[1], rad, 0, 2 * Math.PI);
    ctx.fillStyle = "rgba(19,163,110,0.25)";
    ctx.fill();
    ctx.lineWidth = 2.5;
    ctx.strokeStyle = COLORS.goal;
    ctx.stroke();

    this.hud(ctx, w, h, ep, s, steps.length);
    this.drawTimeline();
    if (this.label) this.label.textContent = "step " + this.step + " / " + (steps.length - 1);
    if (this.stats) {
      var a = s.action || [];
      this.stats.textContent = "plan " + fmt(s.plan_ms, 2) + " ms · energy " + fmtSig(s.energy) +
        " · action [" + [0, 1, 2, 3].map(function (k) { return fmt(a[k], 2); }).join(", ") + "]" +
        " · palm (" + palm.map(function (v) { return v.toFixed(3); }).join(", ") + ") m · gap " + fmt(gap, 3) + " m";
    }
  };

  // Fills polygons far to near (painter's algorithm).
  Viewer.prototype.fill = function (ctx, cam, polys) {
    polys.sort(function (a, b) { return b.depth - a.depth; });
    ctx.lineWidth = 1;
    ctx.lineJoin = "round";
    polys.forEach(function (p) {
      pathOf(ctx, cam, p.pts, true);
      ctx.fillStyle = p.fill;
      ctx.fill();
      ctx.strokeStyle = p.stroke;
      ctx.stroke();
    });
  };

  Viewer.prototype.hud = function (ctx, w, h, ep, s, n) {
    ctx.font = "600 15px system-ui, sans-serif";
    ctx.textBaseline = "top";
    ctx.fillStyle = "#1f2933";
    ctx.fillText(ep.task + " · seed " + ep.seed + " · " + ep.planner + " · " + ep.model, 12, 10);
    ctx.font = "600 13px system-ui, sans-serif";
    ctx.fillStyle = ep.success ? "#13795b" : "#b42318";
    ctx.fillText(ep.success ? "✓ success" : "✗ failure", 12, 30);
    ctx.font = "13px ui-monospace, monospace";
    ctx.fillStyle = "#1f2933";
    ctx.fillText("step " + this.step + " / " + (n - 1), 12, 50);
    ctx.fillText("plan   " + fmt(s.plan_ms, 2) + " ms", 12, 68);
    ctx.fillText("energy " + fmtSig(s.energy), 12, 86);
    // Legend.
    var items = [["cube", css(COLORS.cube, 1)], ["gripper", css(COLORS.palm, 1)], ["goal", COLORS.goal],
      ["plan", COLORS.plan], ["palm path", COLORS.trail]];
    ctx.font = "12px system-ui, sans-serif";
    ctx.textBaseline = "middle";
    var x = 12, y = h - 16;
    items.forEach(function (it) {
      ctx.fillStyle = it[1];
      ctx.fillRect(x, y - 5, 12, 10);
      ctx.fillStyle = "#1f2933";
      ctx.fillText(it[0], x + 16, y);
      x += 28 + ctx.measureText(it[0]).width;
    });
    ctx.textBaseline = "alphabetic";
  };

  // Energy (line) and plan time (bars) over the episode, with the current step marked.
  Viewer.prototype.drawTimeline = function () {
    if (!this.timeline) return;
    var f = fit(this.timeline), ctx = f[0], w = f[1], h = f[2];
    var steps = this.episode().steps || [], n = steps.length;
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(0, 0, w, h);
    var x0 = 14, x1 = w - 14, y0 = 20, y1 = h - 6;
    var xs = function (i) { return n > 1 ? x0 + (x1 - x0) * i / (n - 1) : (x0 + x1) / 2; };
    var ms = steps.map(function (s) { return num(s.plan_ms); });
    var en = steps.map(function (s) { return num(s.energy); });
    var msMax = Math.max.apply(null, ms.filter(isFinite).concat([1e-9]));
    var eFin = en.filter(isFinite);
    var eMin = Math.min.apply(null, eFin.concat([0])), eMax = Math.max.apply(null, eFin.concat([1e-9]));
    var bw = Math.max(1, (x1 - x0) / Math.max(1, n) * 0.7);
    ctx.fillStyle = "#c9d3df";
    ms.forEach(function (v, i) {
      if (!isFinite(v)) return;
      var bh = (y1 - y0) * v / msMax;
      ctx.fillRect(xs(i) - bw / 2, y1 - bh, bw, bh);
    });
    ctx.strokeStyle = "#0072b2";
    ctx.lineWidth = 1.8;
    ctx.beginPath();
    var pen = false;
    en.forEach(function (v, i) {
      if (!isFinite(v)) { pen = false; return; }
      var y = y1 - (y1 - y0) * (v - eMin) / Math.max(1e-12, eMax - eMin);
      if (pen) ctx.lineTo(xs(i), y); else ctx.moveTo(xs(i), y);
      pen = true;
    });
    ctx.stroke();
    ctx.strokeStyle = "#d1495b";
    ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.moveTo(xs(this.step), 4);
    ctx.lineTo(xs(this.step), h - 4);
    ctx.stroke();
    ctx.font = "11px system-ui, sans-serif";
    ctx.textBaseline = "top";
    var tag = function (text, x, color) {
      ctx.fillStyle = "rgba(255,255,255,0.85)";
      ctx.fillRect(x - 3, 2, ctx.measureText(text).width + 6, 14);
      ctx.fillStyle = color;
      ctx.fillText(text, x, 3);
    };
    tag("energy (line, max " + fmtSig(eMax) + ")", x0 + 4, "#0072b2");
    var label = "plan ms (bars, max " + fmt(msMax, 2) + ")";
    tag(label, x1 - ctx.measureText(label).width, "#52606d");
    ctx.textBaseline = "alphabetic";
  };

  var roots = document.querySelectorAll(".replay-viewer");
  var started = 0;
  for (var i = 0; i < roots.length; i++) {
    try {
      var v = new Viewer(roots[i]);
      if (i === 0) v.openFromHash();
      started++;
    } catch (e) {
      report("viewer error: " + (e && e.stack ? e.stack : e));
    }
  }
  if (started === roots.length && document.body.dataset.viewer !== "error") {
    // Where the first canvas lies on the page (CSS px: left, top, width, height), for tests that
    // inspect a screenshot.
    var box = roots.length ? roots[0].querySelector(".viewer-canvas").getBoundingClientRect() : null;
    if (box) {
      document.body.dataset.viewerCanvas = [box.left + window.scrollX, box.top + window.scrollY, box.width, box.height]
        .map(Math.round).join(",");
    }
    document.body.dataset.viewer = "ready";
  }
})();
