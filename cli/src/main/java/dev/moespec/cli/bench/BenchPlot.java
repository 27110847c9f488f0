package dev.moespec.cli.bench;

import dev.moespec.engine.bench.BenchDtype;
import dev.moespec.engine.bench.BenchReport;
import dev.moespec.engine.bench.BenchRow;
import dev.moespec.engine.bench.BenchShape;

import javax.imageio.ImageIO;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.Stroke;
import java.awt.geom.Path2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * {@code --plot FILE.png}: one panel per shape, µs against M, both axes logarithmic (M doubles from row to row, and
 * decode and prefill times differ by orders of magnitude); per dtype our measured rows (solid, circles) and the
 * peer's (dashed, squares) in one colour. Drawn with Java2D, headless.
 */
final class BenchPlot {
    private static final int PANEL_W = 560, PANEL_H = 400, MARGIN_L = 70, MARGIN_R = 20, MARGIN_T = 40, MARGIN_B = 50;
    private static final Color[] COLORS = {new Color(0x1f77b4), new Color(0xd62728), new Color(0x2ca02c), new Color(0x9467bd)};
    private static final Stroke SOLID = new BasicStroke(2f);
    private static final Stroke DASHED = new BasicStroke(2f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f, new float[]{7f, 5f}, 0f);

    private BenchPlot() {}

    private record Point(int tokens, double us) {}

    static void write(BenchReport report, Path file) {
        System.setProperty("java.awt.headless", "true");
        List<BenchShape> shapes = report.config().shapes();
        int cols = Math.min(2, shapes.size()), rows = (shapes.size() + cols - 1) / cols;
        BufferedImage img = new BufferedImage(cols * PANEL_W, rows * PANEL_H + 30, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        try {
            g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
            g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
            g.setColor(Color.WHITE);
            g.fillRect(0, 0, img.getWidth(), img.getHeight());
            g.setColor(Color.BLACK);
            g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 14));
            g.drawString("moespec bench moe: " + report.backend() + " (solid) vs peer (dashed) on " + report.device().name(), 10, 20);
            for (int i = 0; i < shapes.size(); i++) {
                Graphics2D panel = (Graphics2D) g.create((i % cols) * PANEL_W, 30 + (i / cols) * PANEL_H, PANEL_W, PANEL_H);
                try {
                    drawPanel(panel, report, shapes.get(i));
                } finally {
                    panel.dispose();
                }
            }
        } finally {
            g.dispose();
        }
        try {
            Path parent = file.toAbsolutePath().getParent();
            if (parent != null) Files.createDirectories(parent);
            if (!ImageIO.write(img, "png", file.toFile())) throw new IOException("no PNG writer in this JRE");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the plot to " + file + ": " + e.getMessage(), e);
        }
    }

    private static void drawPanel(Graphics2D g, BenchReport report, BenchShape shape) {
        List<Integer> tokens = report.config().tokens();
        List<BenchDtype> dtypes = report.config().dtypes();
        List<List<Point>> ours = new ArrayList<>(), peer = new ArrayList<>();
        double maxUs = 0, minUs = Double.MAX_VALUE;
        for (BenchDtype d : dtypes) {
            List<Point> o = new ArrayList<>(), p = new ArrayList<>();
            for (BenchRow r : report.rows()) {
                if (!r.shape().equals(shape) || r.dtype() != d) continue;
                if (r instanceof BenchRow.Measured m) o.add(new Point(m.tokens(), m.main().medianUs()));
                r.peer().ifPresent(pr -> p.add(new Point(r.tokens(), pr.peerUs())));
            }
            for (Point x : o) {
                maxUs = Math.max(maxUs, x.us());
                minUs = Math.min(minUs, x.us());
            }
            for (Point x : p) {
                maxUs = Math.max(maxUs, x.us());
                minUs = Math.min(minUs, x.us());
            }
            ours.add(o);
            peer.add(p);
        }
        int w = PANEL_W - MARGIN_L - MARGIN_R, h = PANEL_H - MARGIN_T - MARGIN_B;
        if (maxUs <= 0) {
            maxUs = 10;
            minUs = 1;
        }
        double yLo = Math.floor(Math.log10(Math.max(minUs, 1e-3))), yHi = Math.max(Math.ceil(Math.log10(maxUs)), yLo + 1);
        double xMin = log2(tokens.getFirst()), xMax = Math.max(log2(tokens.getLast()), xMin + 1);
        Axis x = v -> MARGIN_L + (log2(v) - xMin) / (xMax - xMin) * w;
        Axis y = v -> MARGIN_T + h - (Math.log10(v) - yLo) / (yHi - yLo) * h;

        g.setColor(Color.BLACK);
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 13));
        g.drawString(shape.name() + "  (" + shape.describe() + ")", MARGIN_L, 22);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
        g.drawRect(MARGIN_L, MARGIN_T, w, h);
        for (int t : tokens) {
            int px = (int) x.map(t);
            g.setColor(new Color(0xE0E0E0));
            g.drawLine(px, MARGIN_T, px, MARGIN_T + h);
            g.setColor(Color.BLACK);
            g.drawString(Integer.toString(t), px - 3 * Integer.toString(t).length(), MARGIN_T + h + 15);
        }
        for (int decade = (int) yLo; decade < (int) yHi; decade++) {
            for (int mult : new int[]{1, 2, 5}) {
                double v = mult * Math.pow(10, decade);
                int py = (int) y.map(v);
                g.setColor(new Color(mult == 1 ? 0xC8C8C8 : 0xEAEAEA));
                g.drawLine(MARGIN_L, py, MARGIN_L + w, py);
                g.setColor(Color.BLACK);
                String label = v >= 1 ? String.format(Locale.ROOT, "%.0f", v) : String.format(Locale.ROOT, "%.3g", v);
                g.drawString(label, MARGIN_L - 8 - 6 * label.length(), py + 4);
            }
        }
        String top = String.format(Locale.ROOT, "%.0f", Math.pow(10, yHi));
        g.drawString(top, MARGIN_L - 8 - 6 * top.length(), MARGIN_T + 4);
        g.drawString("M (tokens, log scale)", MARGIN_L + w / 2 - 50, PANEL_H - 12);
        Graphics2D rot = (Graphics2D) g.create();
        rot.rotate(-Math.PI / 2);
        rot.drawString("us (median, log scale)", -(MARGIN_T + h / 2 + 55), 14);
        rot.dispose();

        boolean any = false;
        int legendY = MARGIN_T + 14;
        for (int i = 0; i < dtypes.size(); i++) {
            Color c = COLORS[i % COLORS.length];
            any |= !ours.get(i).isEmpty();
            series(g, ours.get(i), x, y, c, SOLID, false);
            series(g, peer.get(i), x, y, c, DASHED, true);
            g.setColor(c);
            g.setStroke(SOLID);
            g.drawLine(MARGIN_L + 10, legendY - 4, MARGIN_L + 30, legendY - 4);
            g.setStroke(DASHED);
            g.drawLine(MARGIN_L + 140, legendY - 4, MARGIN_L + 160, legendY - 4);
            g.setColor(Color.BLACK);
            g.drawString(dtypes.get(i).label() + " ours", MARGIN_L + 35, legendY);
            g.drawString(peer.get(i).isEmpty() ? "no peer row" : "peer", MARGIN_L + 165, legendY);
            legendY += 15;
        }
        if (!any) {
            g.setColor(Color.GRAY);
            g.drawString("no measured rows (rejected: see the table)", MARGIN_L + 20, MARGIN_T + h / 2);
        }
    }

    private static void series(Graphics2D g, List<Point> pts, Axis x, Axis y, Color c, Stroke stroke, boolean squares) {
        if (pts.isEmpty()) return;
        g.setColor(c);
        g.setStroke(stroke);
        Path2D line = new Path2D.Double();
        for (int k = 0; k < pts.size(); k++) {
            double px = x.map(pts.get(k).tokens()), py = y.map(pts.get(k).us());
            if (k == 0) line.moveTo(px, py);
            else line.lineTo(px, py);
        }
        g.draw(line);
        g.setStroke(SOLID);
        for (Point p : pts) {
            int px = (int) x.map(p.tokens()), py = (int) y.map(p.us());
            if (squares) g.drawRect(px - 4, py - 4, 8, 8);
            else g.fillOval(px - 4, py - 4, 8, 8);
        }
    }

    @FunctionalInterface
    private interface Axis {
        double map(double v);
    }

    private static double log2(double v) {
        return Math.log(v) / Math.log(2);
    }
}
