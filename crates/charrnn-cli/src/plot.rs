//! `charrnn plot`: training and validation loss from a `--metrics` file, against step and
//! against time, as SVG or PNG (by the extension of `--out`).
//!
//! Text is drawn with DejaVu Sans compiled into the binary, so plotting needs no fonts on the
//! machine (a PNG's text by [`png`], an SVG's by the program that shows it). The picture is
//! drawn in memory and written atomically, so a path that cannot be written is a one-line
//! error and a failed plot never leaves half a picture.

mod png;

use std::path::PathBuf;
use std::sync::Once;

use charrnn::{Error, Result};
use clap::{Args, ValueEnum};
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::metrics::{self, Row};
use crate::output;

/// What the x axis shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum XAxis {
    /// Training steps
    Step,
    /// Elapsed time (minutes)
    Time,
    /// Two panels: against steps and against time
    Both,
}

/// Flags of `charrnn plot`.
#[derive(Args, Debug)]
pub struct PlotArgs {
    /// The JSON-lines file written by `charrnn train --metrics`
    #[arg(long, value_name = "FILE")]
    pub metrics: PathBuf,
    /// The picture to write: .svg or .png
    #[arg(long, default_value = "loss.svg", value_name = "FILE")]
    pub out: PathBuf,
    /// Against steps, time, or both side by side
    #[arg(long, value_enum, default_value_t = XAxis::Both)]
    pub x: XAxis,
    /// A title above the plot [default: the metrics file's name]
    #[arg(long, value_name = "TEXT")]
    pub title: Option<String>,
}

/// Two loss curves, in nats per character.
struct Curves {
    /// (step, elapsed time in `unit`, loss): every training step.
    train: Vec<(f64, f64, f64)>,
    /// The same, smoothed by a centred moving average over 2% of the run.
    smooth: Vec<(f64, f64, f64)>,
    /// (step, elapsed time in `unit`, loss): every validation.
    val: Vec<(f64, f64, f64)>,
    /// The time axis' unit: seconds, minutes or hours, by the run's length.
    unit: &'static str,
}

impl Curves {
    fn of(rows: &[Row]) -> Self {
        let last = rows.iter().map(|r| r.elapsed).fold(0.0, f64::max);
        let (unit, per) = if last < 120.0 {
            ("seconds", 1.0)
        } else if last < 3.0 * 3600.0 {
            ("minutes", 60.0)
        } else {
            ("hours", 3600.0)
        };
        let train: Vec<(f64, f64, f64)> = rows
            .iter()
            .filter_map(|r| {
                r.nats_per_char
                    .map(|l| ((r.step + 1) as f64, r.elapsed / per, l))
            })
            .collect();
        // A centred mean over w steps (fewer at the ends), so the average does not lag.
        let w = (train.len() / 50).max(1);
        let mut prefix = vec![0.0];
        for &(_, _, l) in &train {
            prefix.push(prefix.last().unwrap() + l);
        }
        let smooth = (0..train.len())
            .map(|i| {
                let (lo, hi) = (i.saturating_sub(w / 2), (i + w / 2 + 1).min(train.len()));
                let (s, t, _) = train[i];
                (s, t, (prefix[hi] - prefix[lo]) / (hi - lo) as f64)
            })
            .collect();
        let val = rows
            .iter()
            .filter_map(|r| {
                r.val_loss
                    .map(|v| ((r.step + 1) as f64, r.elapsed / per, v))
            })
            .collect();
        Curves {
            train,
            smooth,
            val,
            unit,
        }
    }
}

pub fn run(a: PlotArgs) -> Result<()> {
    let rows = metrics::read(&a.metrics)?;
    let curves = Curves::of(&rows);
    if curves.train.is_empty() {
        return Err(Error::Config(format!(
            "{}: no training loss (\"nats_per_char\") in it: give a metrics file written by charrnn train --metrics",
            a.metrics.display()
        )));
    }
    let title = a.title.clone().unwrap_or_else(|| {
        a.metrics
            .file_name()
            .map_or("training".into(), |n| n.to_string_lossy().into_owned())
    });
    let ext = a
        .out
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    charrnn::fsutil::check_target(&a.out)?;
    let size = if a.x == XAxis::Both {
        (1400, 520)
    } else {
        (800, 520)
    };
    register_font();
    let failed = |e: Box<dyn std::error::Error>| {
        Error::Config(format!("{}: cannot draw the plot: {e}", a.out.display()))
    };
    let bytes = match ext.as_deref() {
        Some("svg") => {
            let mut svg = String::new();
            draw(
                SVGBackend::with_string(&mut svg, size).into_drawing_area(),
                &curves,
                a.x,
                &title,
            )
            .map_err(failed)?;
            svg.into_bytes()
        }
        Some("png") => {
            let mut rgb = vec![0u8; size.0 as usize * size.1 as usize * 3];
            draw(
                png::Png::new(&mut rgb, size).into_drawing_area(),
                &curves,
                a.x,
                &title,
            )
            .map_err(failed)?;
            png::encode(&rgb, size).map_err(|e| failed(e.into()))?
        }
        _ => {
            return Err(Error::Config(format!(
                "{}: the picture's name must end in .svg or .png",
                a.out.display()
            )))
        }
    };
    charrnn::fsutil::write_atomic(&a.out, &bytes)?;
    output::print(format!(
        "plotted {} steps ({} validations) to {}\n",
        curves.train.len(),
        curves.val.len(),
        a.out.display()
    ))
}

/// DejaVu Sans as the sans-serif family, once.
pub(crate) fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for style in [FontStyle::Normal, FontStyle::Bold] {
            plotters::style::register_font("sans-serif", style, dejavu::sans::regular())
                .unwrap_or_else(|_| panic!("the embedded font loads"));
        }
    });
}

type DrawResult = std::result::Result<(), Box<dyn std::error::Error>>;

fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    c: &Curves,
    x: XAxis,
    title: &str,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let root = root.titled(title, ("sans-serif", 24))?;
    match x {
        XAxis::Step => panel(&root, c, false)?,
        XAxis::Time => panel(&root, c, true)?,
        XAxis::Both => {
            let (l, r) = root.split_horizontally(root.dim_in_pixel().0 / 2);
            panel(&l, c, false)?;
            panel(&r, c, true)?;
        }
    }
    root.present()?;
    Ok(())
}

fn panel<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, c: &Curves, time: bool) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let xy = |&(s, t, l): &(f64, f64, f64)| (if time { t } else { s }, l);
    let all = c.train.iter().chain(&c.val).map(xy);
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for (x, y) in all {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if x1 <= x0 {
        x1 = x0 + 1.0;
    }
    let pad = ((y1 - y0) * 0.05).max(1e-3);
    let mut chart = ChartBuilder::on(area)
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d(x0..x1, (y0 - pad).max(0.0)..y1 + pad)?;
    let x_desc = if time {
        format!("elapsed ({})", c.unit)
    } else {
        "step".to_string()
    };
    let x_fmt = move |x: &f64| {
        if time {
            // Six decimals at most: 0.15, not 0.15000000000000002.
            format!("{}", (x * 1e6).round() / 1e6)
        } else {
            format!("{x:.0}")
        }
    };
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .x_label_formatter(&x_fmt)
        .y_desc("loss (nats per character)")
        .label_style(("sans-serif", 15))
        .axis_desc_style(("sans-serif", 17))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()?;
    let light = RGBColor(160, 190, 230);
    chart
        .draw_series(LineSeries::new(
            c.train.iter().map(xy),
            light.stroke_width(1),
        ))?
        .label("training loss (each step)")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], light.stroke_width(2)));
    chart
        .draw_series(LineSeries::new(
            c.smooth.iter().map(xy),
            BLUE.stroke_width(2),
        ))?
        .label("training loss (moving average)")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE.stroke_width(2)));
    if !c.val.is_empty() {
        let red = RGBColor(220, 50, 32);
        chart
            .draw_series(LineSeries::new(c.val.iter().map(xy), red.stroke_width(2)))?
            .label("validation loss")
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], red.stroke_width(2)));
        chart.draw_series(
            c.val
                .iter()
                .map(xy)
                .map(|p| Circle::new(p, 4, red.filled())),
        )?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font(("sans-serif", 15))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .draw()?;
    Ok(())
}
