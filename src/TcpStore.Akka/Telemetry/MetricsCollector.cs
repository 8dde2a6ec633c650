using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Numerics;
using System.Text;

namespace TcpStore.Akka.Telemetry;

/// <summary>
/// Aggregates the measurements of one <see cref="Meter"/> (by default <see cref="TcpStoreMetrics.MeterName"/>) with a
/// <see cref="MeterListener"/>, for the admin endpoint's <c>/metrics</c> (<see cref="WritePrometheus"/>) without an
/// OpenTelemetry SDK. Counters and up-down counters are summed, histograms bucketed, observable instruments read
/// at each <see cref="Collect"/>. Dispose to stop listening.
/// </summary>
public sealed class MetricsCollector : IDisposable
{
    private static readonly double[] DefaultBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    private readonly string _meterName;
    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<(Instrument Instrument, string Tags), Series> _series = new();

    public MetricsCollector(string meterName = TcpStoreMetrics.MeterName)
    {
        _meterName = meterName;
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name != _meterName) return;
            listener.EnableMeasurementEvents(instrument);
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.SetMeasurementEventCallback<int>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.Start();
    }

    /// <summary>One aggregated series: a metric and one set of tag values.</summary>
    /// <param name="Name">The instrument's name (<c>tcpstore.errors</c>).</param>
    /// <param name="Kind">counter, updowncounter, gauge or histogram.</param>
    /// <param name="Unit">The instrument's unit (UCUM, as OpenTelemetry writes it).</param>
    /// <param name="Description">The instrument's description.</param>
    /// <param name="Tags">Tag values, sorted by tag name.</param>
    /// <param name="Value">The sum (counters), the current value (gauges), or the sum of observations (histograms).</param>
    /// <param name="Count">Observations (histograms).</param>
    /// <param name="Buckets">Upper bounds and cumulative counts (histograms; the last bound is +Inf).</param>
    public sealed record Sample(
        string Name, string Kind, string Unit, string? Description, IReadOnlyList<KeyValuePair<string, string>> Tags,
        double Value, long Count, IReadOnlyList<(double UpperBound, long Count)> Buckets);

    /// <summary>Reads the observable instruments and returns every series, ordered by name then tags.</summary>
    public IReadOnlyList<Sample> Collect()
    {
        _listener.RecordObservableInstruments();
        var samples = new List<Sample>();
        foreach (var ((instrument, _), series) in _series)
            samples.Add(series.ToSample(instrument));
        samples.Sort(static (a, b) =>
        {
            var byName = string.CompareOrdinal(a.Name, b.Name);
            return byName != 0 ? byName : string.CompareOrdinal(TagText(a.Tags), TagText(b.Tags));
        });
        return samples;
    }

    /// <summary>The current value of a counter, gauge or histogram sum with exactly these tags (0 when none was recorded).</summary>
    public double Value(string name, params (string Key, string Value)[] tags)
    {
        var wanted = string.Join(',', tags.OrderBy(t => t.Key, StringComparer.Ordinal).Select(t => t.Key + "=" + t.Value));
        return Collect().Where(s => s.Name == name && TagText(s.Tags) == wanted).Select(s => s.Value).FirstOrDefault();
    }

    /// <summary>Sums of a counter by the values of one tag (e.g. <c>tcpstore.errors</c> by <c>reason</c>).</summary>
    public IReadOnlyDictionary<string, long> SumsBy(string name, string tag)
    {
        var sums = new SortedDictionary<string, long>(StringComparer.Ordinal);
        foreach (var sample in Collect())
        {
            if (sample.Name != name) continue;
            var value = sample.Tags.FirstOrDefault(t => t.Key == tag).Value ?? "";
            sums[value] = sums.GetValueOrDefault(value) + (long)sample.Value;
        }
        return sums;
    }

    /// <summary>
    /// The Prometheus text exposition format (version 0.0.4): dots become underscores, counters end in
    /// <c>_total</c>, a histogram in seconds ends in <c>_seconds</c> and has <c>_bucket</c>, <c>_sum</c>, <c>_count</c>.
    /// </summary>
    public void WritePrometheus(TextWriter writer)
    {
        string? current = null;
        foreach (var sample in Collect())
        {
            var name = PrometheusName(sample);
            if (name != current)
            {
                current = name;
                if (sample.Description is { } help) writer.Write($"# HELP {name} {EscapeHelp(help)}\n");
                var type = sample.Kind switch
                {
                    "counter" => "counter",
                    "histogram" => "histogram",
                    _ => "gauge",
                };
                writer.Write($"# TYPE {name} {type}\n");
            }

            if (sample.Kind == "histogram")
            {
                foreach (var (bound, count) in sample.Buckets)
                {
                    var le = double.IsPositiveInfinity(bound) ? "+Inf" : Number(bound);
                    writer.Write($"{name}_bucket{Labels(sample.Tags, ("le", le))} {count}\n");
                }
                writer.Write($"{name}_sum{Labels(sample.Tags)} {Number(sample.Value)}\n");
                writer.Write($"{name}_count{Labels(sample.Tags)} {sample.Count}\n");
            }
            else
            {
                writer.Write($"{name}{Labels(sample.Tags)} {Number(sample.Value)}\n");
            }
        }
    }

    /// <summary>The Prometheus name of an instrument (<c>tcpstore.errors</c>, counter → <c>tcpstore_errors_total</c>).</summary>
    public static string PrometheusName(string name, string kind, string unit)
    {
        var baseName = name.Replace('.', '_');
        if (unit == "s" && !baseName.EndsWith("_seconds", StringComparison.Ordinal)) baseName += "_seconds";
        if (unit == "By" && !baseName.EndsWith("_bytes", StringComparison.Ordinal)) baseName += "_bytes";
        return kind == "counter" ? baseName + "_total" : baseName;
    }

    public void Dispose() => _listener.Dispose();

    private static string PrometheusName(Sample sample) => PrometheusName(sample.Name, sample.Kind, sample.Unit);

    // Untagged measurements (the per-batch latency) allocate nothing here; tagged ones are rare events.
    private void Record<T>(Instrument instrument, T value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        where T : struct, INumber<T>
    {
        var key = tags.Length == 0 ? "" : TagKey(tags);
        if (!_series.TryGetValue((instrument, key), out var series))
            series = _series.GetOrAdd((instrument, key), new Series(instrument, tags.ToArray()));
        series.Add(double.CreateChecked(value), instrument.IsObservable);
    }

    private static string TagKey(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var sorted = tags.ToArray();
        Array.Sort(sorted, static (a, b) => string.CompareOrdinal(a.Key, b.Key));
        return string.Join(',', sorted.Select(t => t.Key + "=" + Convert.ToString(t.Value, CultureInfo.InvariantCulture)));
    }

    private static string TagText(IReadOnlyList<KeyValuePair<string, string>> tags) =>
        string.Join(',', tags.Select(t => t.Key + "=" + t.Value));

    private static string Labels(IReadOnlyList<KeyValuePair<string, string>> tags, (string Key, string Value)? extra = null)
    {
        if (tags.Count == 0 && extra is null) return "";
        var text = new StringBuilder("{");
        foreach (var (key, value) in tags) Append(key, value);
        if (extra is { } e) Append(e.Key, e.Value);
        text.Length--; // the last comma
        return text.Append('}').ToString();

        void Append(string key, string value) =>
            text.Append(key.Replace('.', '_')).Append("=\"")
                .Append(value.Replace("\\", @"\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal)
                    .Replace("\n", @"\n", StringComparison.Ordinal))
                .Append("\",");
    }

    private static string EscapeHelp(string help) =>
        help.Replace("\\", @"\\", StringComparison.Ordinal).Replace("\n", @"\n", StringComparison.Ordinal);

    private static string Number(double value) =>
        double.IsPositiveInfinity(value) ? "+Inf" : value.ToString("R", CultureInfo.InvariantCulture);

    private sealed class Series
    {
        private readonly Lock _gate = new();
        private readonly string _kind;
        private readonly double[]? _bounds;
        private readonly long[]? _bucketCounts;
        private readonly KeyValuePair<string, string>[] _tags;
        private double _value;
        private long _count;

        public Series(Instrument instrument, KeyValuePair<string, object?>[] tags)
        {
            _kind = instrument switch
            {
                Counter<long> or Counter<int> or Counter<double> or ObservableCounter<long> or ObservableCounter<int>
                    or ObservableCounter<double> => "counter",
                UpDownCounter<long> or UpDownCounter<int> or UpDownCounter<double> => "updowncounter",
                Histogram<double> or Histogram<long> or Histogram<int> => "histogram",
                _ => "gauge",
            };
            if (_kind == "histogram")
            {
                _bounds = (instrument as Histogram<double>)?.Advice?.HistogramBucketBoundaries?.ToArray() ?? DefaultBuckets;
                _bucketCounts = new long[_bounds.Length + 1];
            }
            _tags = tags
                .Select(t => new KeyValuePair<string, string>(t.Key, Convert.ToString(t.Value, CultureInfo.InvariantCulture) ?? ""))
                .OrderBy(t => t.Key, StringComparer.Ordinal)
                .ToArray();
        }

        public void Add(double value, bool observed)
        {
            lock (_gate)
            {
                if (observed)
                {
                    _value = value; // observable instruments report their current (or cumulative) value
                    return;
                }
                _value += value;
                _count++;
                if (_bounds is not null)
                {
                    var i = 0;
                    while (i < _bounds.Length && value > _bounds[i]) i++;
                    _bucketCounts![i]++;
                }
            }
        }

        public Sample ToSample(Instrument instrument)
        {
            lock (_gate)
            {
                var buckets = new List<(double, long)>();
                if (_bounds is not null)
                {
                    long cumulative = 0;
                    for (var i = 0; i < _bounds.Length; i++)
                    {
                        cumulative += _bucketCounts![i];
                        buckets.Add((_bounds[i], cumulative));
                    }
                    buckets.Add((double.PositiveInfinity, cumulative + _bucketCounts![^1]));
                }
                return new Sample(instrument.Name, _kind, instrument.Unit ?? "", instrument.Description, _tags, _value, _count, buckets);
            }
        }
    }
}
