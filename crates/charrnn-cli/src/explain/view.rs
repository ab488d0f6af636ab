//! An [`Explanation`] as the report page reads it, and the self-contained HTML report.
//!
//! The page gets every number of the explanation but the activations at full precision; those
//! (`[N, H]` per channel) go as one byte per value, base64: the value mapped to a colour
//! coordinate `x` in [-1, 1] and stored as `round(127 x) + 128`. A sigmoid gate's `v` in
//! [0, 1] is `x = 2v - 1`; anything else is `x = v / s` with `s` per unit, the largest `|v|`
//! of the unit but at least 1 (so values in [-1, 1] keep their absolute colour, and a cell
//! state that leaves that range is scaled into it). The page shows `v` back to within
//! `s / 254`.

use base64::Engine;
use charrnn::explain::{
    Channel, ChannelKind, Explanation, Feature, Found, LineLoss, Loss, ModelSummary, Saturation,
};
use charrnn::model::Squash;
use serde::Serialize;

/// The page, with `/*TITLE*/`, `/*CSS*/`, `/*DATA*/` and `/*JS*/` to fill, in that order.
const PAGE: &str = include_str!("report.html");
/// The report's style and script, also used by `charrnn serve`'s Explain tab.
pub const CSS: &str = include_str!("report.css");
pub const JS: &str = include_str!("report.js");

/// One channel, quantized.
#[derive(Serialize)]
pub struct ChannelView {
    layer: usize,
    name: &'static str,
    kind: ChannelKind,
    squash: Option<Squash>,
    units: usize,
    /// `[H]` the scale `s` of each unit (1 for a sigmoid gate).
    scale: Vec<f32>,
    /// `[N, H]` bytes, base64.
    q: String,
}

/// What the page reads: the explanation, with its activations quantized.
#[derive(Serialize)]
pub struct View<'a> {
    /// What was explained with what, for the title.
    title: &'a str,
    model: &'a ModelSummary,
    text: &'a str,
    truncated: bool,
    skipped: usize,
    replaced: usize,
    loss: &'a Loss,
    bits: &'a [Option<f64>],
    p: &'a [Option<f32>],
    top: &'a [Vec<(char, f32)>],
    lines: &'a [LineLoss],
    channels: Vec<ChannelView>,
    features: &'a [Feature],
    found: &'a [Found],
    saturation: &'a [Saturation],
}

impl<'a> View<'a> {
    pub fn new(e: &'a Explanation, title: &'a str) -> Self {
        View {
            title,
            model: &e.model,
            text: &e.text,
            truncated: e.truncated,
            skipped: e.skipped,
            replaced: e.replaced,
            loss: &e.loss,
            bits: &e.bits,
            p: &e.p,
            top: &e.top,
            lines: &e.lines,
            channels: e.channels.iter().map(quantize).collect(),
            features: &e.features,
            found: &e.found,
            saturation: &e.saturation,
        }
    }
}

/// The colour coordinate of every value of `c`, one byte each (see the module docs).
fn quantize(c: &Channel) -> ChannelView {
    let h = c.units;
    let sigmoid = c.squash == Some(Squash::Sigmoid);
    let mut scale = vec![1.0f32; h];
    if !sigmoid {
        for row in c.values.chunks_exact(h) {
            for (s, &v) in scale.iter_mut().zip(row) {
                *s = s.max(v.abs());
            }
        }
    }
    let bytes: Vec<u8> = c
        .values
        .chunks_exact(h)
        .flat_map(|row| {
            row.iter().zip(&scale).map(move |(&v, &s)| {
                let x = if sigmoid { 2.0 * v - 1.0 } else { v / s };
                (x.clamp(-1.0, 1.0) * 127.0).round() as i32 as u8 ^ 0x80
            })
        })
        .collect();
    ChannelView {
        layer: c.layer,
        name: c.name,
        kind: c.kind,
        squash: c.squash,
        units: h,
        scale,
        q: base64::engine::general_purpose::STANDARD.encode(bytes),
    }
}

/// The view as JSON that can sit inside a `<script>` element: every `<` escaped.
pub fn json(view: &View) -> String {
    serde_json::to_string(view)
        .expect("views serialize")
        .replace('<', "\\u003c")
}

/// The self-contained report: the page with its style, script and data inline.
pub fn html(view: &View) -> String {
    let (title, data) = (escape(view.title), json(view));
    let mut out = String::with_capacity(PAGE.len() + CSS.len() + JS.len() + data.len());
    let mut rest = PAGE;
    // Each mark is looked for after the last, so no filling is searched for marks.
    for (mark, fill) in [
        ("/*TITLE*/", title.as_str()),
        ("/*CSS*/", CSS),
        ("/*DATA*/", data.as_str()),
        ("/*JS*/", JS),
    ] {
        let (before, after) = rest
            .split_once(mark)
            .expect("report.html has its marks in this order");
        out.push_str(before);
        out.push_str(fill);
        rest = after;
    }
    out.push_str(rest);
    out
}

/// `s` with HTML's special characters escaped.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantized_values_come_back_within_half_a_step() {
        let values = [-1.0, -0.3, 0.0, 0.5, 2.0, -4.0, 0.999, 0.0];
        for squash in [None, Some(Squash::Sigmoid), Some(Squash::Tanh)] {
            let c = Channel {
                layer: 0,
                name: "x",
                kind: ChannelKind::State,
                squash,
                units: 2,
                values: values.iter().map(|&v: &f64| v as f32).collect(),
            };
            let v = quantize(&c);
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(&v.q)
                .unwrap();
            for (i, (&b, &want)) in bytes.iter().zip(&c.values).enumerate() {
                let x = (b as f32 - 128.0) / 127.0;
                let s = v.scale[i % 2];
                let got = if squash == Some(Squash::Sigmoid) {
                    (x + 1.0) / 2.0
                } else {
                    x * s
                };
                let want = if squash == Some(Squash::Sigmoid) {
                    want.clamp(0.0, 1.0)
                } else {
                    want
                };
                assert!(
                    (got - want).abs() <= s / 254.0 + 1e-6,
                    "{squash:?} {i}: {got} vs {want}"
                );
            }
        }
    }

    #[test]
    fn text_from_outside_cannot_close_the_script_element() {
        use charrnn::model::{CellKind, Model, ModelConfig};
        use rand::SeedableRng;

        let text = "</script><!-- <b>";
        let vocab = charrnn::Vocab::from_text(text);
        let config = ModelConfig {
            cell: CellKind::RNN,
            vocab: vocab.len(),
            emb: 2,
            hidden: 3,
            layers: 1,
        };
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(1);
        let model = Model::<f32>::init(config, 0.1, &mut rng);
        let e = charrnn::explain::explain(&model, &vocab, text, &Default::default()).unwrap();
        let view = View::new(&e, "<b>title</b>");
        assert!(!json(&view).contains('<'));
        let page = html(&view);
        let scripts = PAGE.matches("</script>").count() + JS.matches("</script>").count();
        assert_eq!(page.matches("</script>").count(), scripts);
        assert!(page.contains("&lt;b&gt;title&lt;/b&gt;"));
    }
}
