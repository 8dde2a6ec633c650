using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Numerics;
using TcpStore.Akka.Telemetry;

namespace TcpStore.Akka.Tests.Support;

/// <summary>
/// Aggregates the measurements of one <see cref="Meter"/> (by default <see cref="TcpStoreMetrics.MeterName"/>) with a
/// <see cref="MeterListener"/>, so that tests read the instruments themselves, apart from any exporter. Counters and
/// up-down counters are summed, histograms bucketed, observable instruments read at each <see cref="Collect"/>.
/// Dispose to stop listening.
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
    /// <param name="Tags">Tag values, sorted by tag name.</param>
    /// <param name="Value">The sum (counters), the current value (gauges), or the sum of observations (histograms).</param>
    /// <param name="Count">Observations (histograms).</param>
    /// <param name="Buckets">Upper bounds and cumulative counts (histograms; the last bound is +Inf).</param>
    public sealed record Sample(
        string Name, string Kind, string Unit, IReadOnlyList<KeyValuePair<string, string>> Tags,
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

    public void Dispose() => _listener.Dispose();

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
                return new Sample(instrument.Name, _kind, instrument.Unit ?? "", _tags, _value, _count, buckets);
            }
        }
    }
}
