using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using TcpStore.Akka.Telemetry;

namespace TcpStore.TestSupport;

/// <summary>Records the long-counter measurements of the component's meter while it lives.</summary>
public sealed class MetricRecorder : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentQueue<(string Instrument, long Value, Dictionary<string, object?> Tags)> _measurements = new();

    public MetricRecorder()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == TcpStoreMetrics.MeterName) listener.EnableMeasurementEvents(instrument);
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            var tagMap = new Dictionary<string, object?>();
            foreach (var tag in tags) tagMap[tag.Key] = tag.Value;
            _measurements.Enqueue((instrument.Name, value, tagMap));
        });
        _listener.Start();
    }

    /// <summary>The sum recorded on <paramref name="instrument"/> whose tag <paramref name="tag"/> equals <paramref name="value"/>.</summary>
    public long Sum(string instrument, string tag, string value) =>
        _measurements.Where(m => m.Instrument == instrument && Equals(m.Tags.GetValueOrDefault(tag), value))
            .Sum(m => m.Value);

    public void Dispose() => _listener.Dispose();
}
