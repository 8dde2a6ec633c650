using System.Globalization;
using System.Text.RegularExpressions;

namespace TcpStore.Akka.Tests.Support;

/// <summary>
/// A scrape in the Prometheus text format (0.0.4), parsed as a scraper reads it: the <c># TYPE</c> of each metric
/// family, and every sample with its name, labels and value (a trailing timestamp is ignored).
/// </summary>
public sealed partial class PrometheusText
{
    private PrometheusText(IReadOnlyDictionary<string, string> types, IReadOnlyList<Sample> samples)
    {
        Types = types;
        Samples = samples;
    }

    /// <summary>One sample line, e.g. <c>tcpstore_errors_total{reason="max-connections"} 1</c>.</summary>
    public sealed record Sample(string Name, IReadOnlyDictionary<string, string> Labels, double Value);

    /// <summary>Metric family name → type (<c>counter</c>, <c>gauge</c>, <c>histogram</c>, …).</summary>
    public IReadOnlyDictionary<string, string> Types { get; }

    public IReadOnlyList<Sample> Samples { get; }

    public static PrometheusText Parse(string text)
    {
        var types = new Dictionary<string, string>(StringComparer.Ordinal);
        var samples = new List<Sample>();
        foreach (var line in text.Split('\n'))
        {
            if (line.Length == 0 || line.StartsWith("# HELP ", StringComparison.Ordinal)) continue;
            if (line.StartsWith("# TYPE ", StringComparison.Ordinal))
            {
                var parts = line.Split(' ');
                Assert.True(parts.Length == 4, $"malformed TYPE line: {line}");
                Assert.True(types.TryAdd(parts[2], parts[3]), $"second TYPE line for {parts[2]}");
                continue;
            }
            Assert.False(line.StartsWith('#'), $"unexpected comment line: {line}");

            var match = SampleLine().Match(line);
            Assert.True(match.Success, $"malformed sample line: {line}");
            var labels = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (Match label in LabelPair().Matches(match.Groups["labels"].Value))
                Assert.True(labels.TryAdd(label.Groups["key"].Value, label.Groups["value"].Value), $"repeated label: {line}");
            samples.Add(new Sample(match.Groups["name"].Value, labels, ParseValue(match.Groups["value"].Value)));
        }
        return new PrometheusText(types, samples);
    }

    /// <summary>The samples named <paramref name="name"/> that carry every one of <paramref name="labels"/>.</summary>
    public IEnumerable<Sample> Find(string name, params (string Key, string Value)[] labels) =>
        Samples.Where(s => s.Name == name && labels.All(l => s.Labels.GetValueOrDefault(l.Key) == l.Value));

    /// <summary>The value of the one sample that matches, or 0 if none does (a counter appears at its first count);
    /// fails if several match.</summary>
    public double Value(string name, params (string Key, string Value)[] labels) =>
        Find(name, labels).SingleOrDefault()?.Value ?? 0;

    private static double ParseValue(string text) => text switch
    {
        "+Inf" => double.PositiveInfinity,
        "-Inf" => double.NegativeInfinity,
        _ => double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture),
    };

    [GeneratedRegex("""^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?<labels>[^}]*)\})? (?<value>\S+)( -?[0-9]+)?$""")]
    private static partial Regex SampleLine();

    [GeneratedRegex("""(?<key>[a-zA-Z_][a-zA-Z0-9_]*)="(?<value>(\\.|[^"\\])*)",?""")]
    private static partial Regex LabelPair();
}
