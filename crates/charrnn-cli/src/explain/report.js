// The report of `charrnn explain`: renders an explanation (the page's JSON view, see view.rs)
// into an element. The report file calls it on its inline data; a page may call it again.
// `charrnnExplain.current()` is the last rendered view: its state and setters (for tests).
var charrnnExplain = (function () {
  'use strict';
  var current = null;

  function el(tag, attrs) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === 'text') e.textContent = attrs[k];
      // Through the CSSOM: a style attribute would break charrnn serve's Content-Security-Policy.
      else if (k === 'style') e.style.cssText = attrs[k];
      else e.setAttribute(k, attrs[k]);
    });
    for (var i = 2; i < arguments.length; i++) {
      var kid = arguments[i];
      if (kid != null) e.append(kid);
    }
    return e;
  }

  function decode(b64) {
    var bin = atob(b64), q = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) q[i] = bin.charCodeAt(i);
    return q;
  }

  function shown(c) {
    return { '\n': '↵', '\t': '⇥', '\r': '␍' }[c] || c;
  }

  function named(c) {
    return { '\n': '↵ newline', ' ': '␣ space', '\t': '⇥ tab', '\r': '␍ return' }[c] || c;
  }

  function pct(p) {
    return (100 * p).toFixed(p >= 0.1 ? 1 : p >= 0.001 ? 2 : 4) + '%';
  }

  // Surprise: white (0 bits) through yellow to red (8 bits and more).
  function surpriseColour(bits) {
    if (bits == null) return '';
    var t = Math.min(bits / 8, 1);
    return 'hsla(' + (50 - 50 * t).toFixed(0) + ',95%,50%,' + (0.08 + 0.8 * t).toFixed(3) + ')';
  }

  // A colour coordinate in [-1, 1]: blue through white to red.
  function divergingColour(x) {
    var a = (Math.min(Math.abs(x), 1) * 0.9).toFixed(3);
    return x >= 0 ? 'rgba(214,39,40,' + a + ')' : 'rgba(31,98,214,' + a + ')';
  }

  function featureColour(v, max) {
    return 'rgba(20,150,80,' + (max > 0 ? 0.85 * v / max : 0).toFixed(3) + ')';
  }

  function render(root, D, useHash) {
    root.textContent = '';
    root.classList.add('xp');
    var chars = Array.from(D.text);
    var N = chars.length;
    var chans = D.channels.map(function (c) {
      return Object.assign({}, c, { q: decode(c.q) });
    });
    var names = D.model.states.concat(D.model.gates);
    function chan(layer, name) {
      return chans.find(function (c) { return c.layer === layer && c.name === name; });
    }
    function coord(c, i, u) { return (c.q[i * c.units + u] - 128) / 127; }
    function value(c, i, u) {
      var x = coord(c, i, u);
      return c.squash === 'sigmoid' ? (x + 1) / 2 : x * c.scale[u];
    }
    function feature(name) {
      return D.features.find(function (f) { return f.name === name; });
    }
    // The strongest found unit is shown first in neuron mode.
    var best = null;
    D.found.forEach(function (f) {
      var n = f.neurons[0];
      if (n && (!best || Math.abs(n.r) > Math.abs(best.r))) best = n;
    });
    var st = {
      mode: 'surprise',
      layer: best ? best.layer : D.model.layers - 1,
      channel: best ? best.channel : D.model.states[D.model.states.length - 1],
      unit: best ? best.unit : 0,
      feature: (D.found.find(function (f) { return f.varies; }) || D.found[0] || {}).feature || ''
    };

    // Header.
    var m = D.model, L = D.loss;
    root.append(
      el('h1', { text: 'charrnn explain' }),
      el('p', { class: 'sub', text: D.title + ' · ' + m.cell + ' E' + m.emb + ' H' + m.hidden +
        ' × ' + m.layers + ', vocabulary ' + m.vocab }),
      el('p', { id: 'x-total', text: N + ' characters, ' + L.predicted + ' predicted: ' +
        L.bits_per_char.toFixed(4) + ' bits/char (' + L.nats_per_char.toFixed(4) +
        ' nats/char, perplexity ' + L.perplexity.toFixed(3) + ', ' +
        (L.nats / Math.LN2).toFixed(1) + ' bits in all)' }));
    var notes = [];
    if (D.truncated) notes.push('The text is longer: these are its first ' + N + ' characters (--max-chars).');
    if (D.skipped) notes.push(D.skipped + ' characters the model does not know were left out.');
    if (D.replaced) notes.push(D.replaced + ' characters the model does not know were read as its unknown symbol.');
    if (notes.length) root.append(el('p', { class: 'note', text: notes.join(' ') }));

    // Controls.
    var mode = el('select', { id: 'x-mode' },
      el('option', { value: 'surprise', text: 'surprise (bits)' }),
      el('option', { value: 'neuron', text: 'neuron' }),
      el('option', { value: 'feature', text: 'text feature' }));
    var layer = el('select', { id: 'x-layer' });
    for (var k = 0; k < m.layers; k++) layer.append(el('option', { value: k, text: 'layer ' + k }));
    var channel = el('select', { id: 'x-channel' });
    names.forEach(function (n) {
      var what = m.states.indexOf(n) >= 0 ? (n === 'h' ? 'hidden state' : 'cell state') : 'gate';
      channel.append(el('option', { value: n, text: n + ' (' + what + ')' }));
    });
    var unit = el('input', { id: 'x-unit', type: 'number', min: 0, max: m.hidden - 1, step: 1 });
    var prev = el('button', { id: 'x-prev', type: 'button', text: '◀', title: 'previous unit' });
    var next = el('button', { id: 'x-next', type: 'button', text: '▶', title: 'next unit' });
    var feat = el('select', { id: 'x-feature' });
    D.features.forEach(function (f) { feat.append(el('option', { value: f.name, text: f.name })); });
    var neuronBox = el('span', { id: 'x-neuron' }, layer, ' ', channel, ' unit ', unit, prev, next);
    var featureBox = el('span', { id: 'x-featurebox' }, feat);
    var legend = el('span', { class: 'legend', id: 'x-legend' });
    root.append(el('div', { class: 'bar' },
      el('label', {}, 'colour by ', mode), neuronBox, featureBox, legend));

    // The text, one row per line, its bits/char in the gutter.
    var text = el('div', { class: 'text', id: 'x-text' });
    var spans = new Array(N);
    D.lines.forEach(function (line) {
      var lt = el('span', { class: 'lt' });
      for (var i = line.start; i < line.end; i++) {
        var s = document.createElement('span');
        s.className = chars[i] === '\n' ? 'ch nl' : 'ch';
        s.textContent = shown(chars[i]);
        s.dataset.i = i;
        spans[i] = s;
        lt.appendChild(s);
      }
      text.append(el('div', { class: 'line' },
        el('span', { class: 'lb', title: 'bits/char of this line',
          text: line.predicted ? line.bits_per_char.toFixed(2) : '' }), lt));
    });
    root.append(text);

    // Hover: what the model expected at a character.
    var tip = el('div', { class: 'tip', id: 'x-tip' });
    root.append(tip);
    var hovered = null;
    function fillTip(i) {
      tip.textContent = '';
      var c = chars[i];
      var line = D.lines.findIndex(function (l) { return i < l.end; });
      tip.append(el('div', {}, el('b', { text: named(c) }), ' at ' + i + ', line ' + (line + 1)));
      if (D.bits[i] == null) {
        tip.append(el('div', { class: 'muted', text: 'the first character: nothing predicted it' }));
      } else {
        tip.append(el('div', { text: D.bits[i].toFixed(2) + ' bits of surprise: p = ' + pct(D.p[i]) }));
        var table = el('table', {});
        var listed = false;
        D.top[i].forEach(function (t) {
          var real = t[0] === c;
          listed = listed || real;
          table.append(el('tr', real ? { class: 'real' } : {},
            el('td', { class: 'c', text: named(t[0]) }),
            el('td', {}, el('span', { class: 'pb', style: 'width:' + Math.max(1, 70 * t[1]).toFixed(0) + 'px' })),
            el('td', { text: pct(t[1]) })));
        });
        if (!listed) {
          table.append(el('tr', { class: 'real' }, el('td', { class: 'c', text: named(c) }),
            el('td', { text: '…' }), el('td', { text: pct(D.p[i]) })));
        }
        tip.append(table);
      }
      var val = '';
      if (st.mode === 'neuron') {
        val = 'layer ' + st.layer + ' ' + st.channel + '[' + st.unit + '] = ' +
          value(chan(st.layer, st.channel), i, st.unit).toFixed(3);
      } else if (st.mode === 'feature') {
        val = st.feature + ' = ' + feature(st.feature).values[i];
      }
      if (val) tip.append(el('div', { class: 'val', text: val }));
    }
    function placeTip(ev) {
      var w = tip.offsetWidth, h = tip.offsetHeight;
      var x = ev.clientX + 14, y = ev.clientY + 16;
      if (x + w > window.innerWidth - 4) x = Math.max(4, ev.clientX - w - 14);
      if (y + h > window.innerHeight - 4) y = Math.max(4, ev.clientY - h - 16);
      tip.style.left = x + 'px';
      tip.style.top = y + 'px';
    }
    text.addEventListener('mouseover', function (ev) {
      var s = ev.target.closest('.ch');
      if (!s) return;
      if (hovered) hovered.classList.remove('on');
      hovered = s;
      s.classList.add('on');
      fillTip(+s.dataset.i);
      tip.style.display = 'block';
      placeTip(ev);
    });
    text.addEventListener('mousemove', function (ev) { if (hovered) placeTip(ev); });
    text.addEventListener('mouseleave', function () {
      tip.style.display = 'none';
      if (hovered) hovered.classList.remove('on');
      hovered = null;
    });

    // Found neurons.
    root.append(el('h2', { id: 'x-found-title', text: 'Found neurons' }),
      el('p', { class: 'sub', text: 'For each feature of the text, the state units whose ' +
        'values follow it most closely (Pearson r over these ' + N + ' characters). Click one ' +
        'to colour the text by it; click a feature to colour by the feature.' }));
    var found = el('table', { class: 'found', id: 'x-found' },
      el('tr', {}, el('th', { text: 'feature' }), el('th', { text: 'units (layer, state, unit, r)' })));
    D.found.forEach(function (f) {
      var about = (feature(f.feature) || {}).about || '';
      var name = el('a', { href: '#feature=' + f.feature, text: f.feature });
      name.addEventListener('click', function (ev) { ev.preventDefault(); setFeature(f.feature); });
      var cell = el('td', {});
      if (!f.varies) cell.append(el('span', { class: 'muted', text: 'not in this text' }));
      f.neurons.forEach(function (n) {
        var b = el('span', { class: 'unit' + (n.r < 0 ? ' neg' : ''),
          'data-layer': n.layer, 'data-channel': n.channel, 'data-unit': n.unit,
          text: 'L' + n.layer + ' ' + n.channel + n.unit + ' ' + (n.r >= 0 ? '+' : '') + n.r.toFixed(2) });
        b.addEventListener('click', function () { setNeuron(n.layer, n.channel, n.unit); });
        cell.append(b);
      });
      found.append(el('tr', {}, el('td', {}, name, el('div', { class: 'about', text: about })), cell));
    });
    root.append(found);

    // Gates and saturation.
    root.append(el('h2', { text: 'Gates and saturation' }));
    if (!D.saturation.length) {
      root.append(el('p', { class: 'sub', text: 'This cell (' + m.cell + ') has no gates.' }));
    } else {
      root.append(el('p', { class: 'sub', text: 'Each bounded gate of each layer: the ' +
        'histogram of all its values, and a dot per unit at (share of time near the lower ' +
        'bound, share near the upper). Click a gate to colour the text by its first unit.' }));
      var sat = el('div', { class: 'sat', id: 'x-sat' });
      D.saturation.forEach(function (s) { sat.append(gateChart(s)); });
      root.append(sat);
    }
    function gateChart(s) {
      // SVG markup of numbers only; the HTML parser puts it in the SVG namespace.
      var parts = [];
      function add(tag, a) {
        parts.push('<' + tag + Object.keys(a).map(function (k) {
          return ' ' + k + '="' + a[k] + '"';
        }).join('') + '/>');
      }
      var top = Math.max.apply(null, s.hist) || 1;
      var lo = s.squash === 'sigmoid' ? 0 : -1, w = (1 - lo) / s.hist.length;
      s.hist.forEach(function (v, b) {
        var h = 60 * v / top;
        // Bins near a bound (past s.low or s.high) in orange.
        var near = lo + (b + 1) * w <= s.low + 1e-9 || lo + b * w >= s.high - 1e-9;
        add('rect', { x: 4 + b * 7.5, y: (66 - h).toFixed(2), width: 6.5,
          height: Math.max(h, 0.5).toFixed(2), fill: near ? '#d0582c' : '#5b82c9' });
      });
      add('line', { x1: 4, y1: 66.5, x2: 154, y2: 66.5, stroke: '#999' });
      add('rect', { x: 166, y: 4, width: 62, height: 62, fill: 'none', stroke: '#bbb' });
      s.units.forEach(function (u) {
        add('circle', { cx: (166 + 62 * u[0]).toFixed(2), cy: (66 - 62 * u[1]).toFixed(2),
          r: 1.8, fill: '#222', 'fill-opacity': 0.5 });
      });
      var box = el('div', { class: 'gate', 'data-layer': s.layer, 'data-gate': s.gate });
      box.append(el('div', {}, el('b', { text: 'layer ' + s.layer + ' ' + s.gate }),
        ' (' + s.squash + '): ' + pct(s.low_share) + ' < ' + s.low + ', ' +
        pct(s.high_share) + ' > ' + s.high));
      box.insertAdjacentHTML('beforeend', '<svg width="232" height="74">' + parts.join('') + '</svg>');
      box.style.cursor = 'pointer';
      box.addEventListener('click', function () { setNeuron(s.layer, s.gate, 0); });
      return box;
    }

    // State changes.
    function syncControls() {
      mode.value = st.mode;
      layer.value = st.layer;
      channel.value = st.channel;
      unit.value = st.unit;
      feat.value = st.feature;
      neuronBox.style.display = st.mode === 'neuron' ? '' : 'none';
      featureBox.style.display = st.mode === 'feature' ? '' : 'none';
    }
    function setLegend(lo, hi, ramp) {
      legend.textContent = '';
      legend.append(el('span', { text: lo }),
        el('span', { class: 'ramp', style: 'background:linear-gradient(to right,' + ramp + ')' }),
        el('span', { text: hi }));
    }
    function paint() {
      var colour;
      if (st.mode === 'neuron') {
        var c = chan(st.layer, st.channel), u = st.unit;
        colour = function (i) { return divergingColour(coord(c, i, u)); };
        var s = c.scale[u];
        var ends = c.squash === 'sigmoid' ? ['0', '1'] : ['−' + s.toFixed(2), '+' + s.toFixed(2)];
        setLegend(ends[0], ends[1], divergingColour(-1) + ',#fff,' + divergingColour(1));
      } else if (st.mode === 'feature') {
        var f = feature(st.feature), max = 0;
        for (var j = 0; j < N; j++) max = Math.max(max, f.values[j]);
        colour = function (i) { return featureColour(f.values[i], max); };
        setLegend('0', String(max), '#fff,' + featureColour(1, 1));
      } else {
        colour = function (i) { return surpriseColour(D.bits[i]); };
        setLegend('0 bits', '8+', surpriseColour(0) + ',' + surpriseColour(4) + ',' + surpriseColour(8));
      }
      for (var i = 0; i < N; i++) spans[i].style.backgroundColor = colour(i);
      syncControls();
      if (useHash) {
        var h = st.mode === 'neuron' ? 'neuron=' + st.layer + '/' + encodeURIComponent(st.channel) + '/' + st.unit
          : st.mode === 'feature' ? 'feature=' + st.feature : 'surprise';
        history.replaceState(null, '', '#' + h);
      }
    }
    function setMode(m) { st.mode = m; paint(); }
    function setNeuron(l, c, u) {
      if (l < 0 || l >= m.layers || names.indexOf(c) < 0) return false;
      st.layer = l; st.channel = c;
      st.unit = Math.min(Math.max(0, u | 0), m.hidden - 1);
      st.mode = 'neuron';
      paint();
      return true;
    }
    function setFeature(name) {
      if (!feature(name)) return false;
      st.feature = name;
      st.mode = 'feature';
      paint();
      return true;
    }
    mode.addEventListener('change', function () { setMode(mode.value); });
    layer.addEventListener('change', function () { setNeuron(+layer.value, st.channel, st.unit); });
    channel.addEventListener('change', function () { setNeuron(st.layer, channel.value, st.unit); });
    unit.addEventListener('change', function () { setNeuron(st.layer, st.channel, +unit.value); });
    prev.addEventListener('click', function () { setNeuron(st.layer, st.channel, (st.unit + m.hidden - 1) % m.hidden); });
    next.addEventListener('click', function () { setNeuron(st.layer, st.channel, (st.unit + 1) % m.hidden); });
    feat.addEventListener('change', function () { setFeature(feat.value); });

    // The view a link asks for: #surprise, #neuron=LAYER/STATE/UNIT, #feature=NAME.
    var asked = useHash ? decodeURIComponent(location.hash.slice(1)) : '';
    var nm = /^neuron=(\d+)\/([^/]+)\/(\d+)$/.exec(asked);
    var fm = /^feature=(\w+)$/.exec(asked);
    if (!(nm && setNeuron(+nm[1], nm[2], +nm[3])) && !(fm && setFeature(fm[1]))) paint();

    current = {
      state: st,
      setMode: setMode,
      setNeuron: setNeuron,
      setFeature: setFeature,
      value: function (l, c, u, i) { return value(chan(l, c), i, u); },
      colour: function (i) { return spans[i].style.backgroundColor; }
    };
    root.dataset.ready = '1';
    return current;
  }

  return { render: render, current: function () { return current; } };
})();
