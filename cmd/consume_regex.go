package cmd

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/IBM/sarama"
	"github.com/streamctl/streamctl/internal/kafkainfo"
	"github.com/urfave/cli/v2"
)

// regexFlags are consume's flags for choosing topics by name.
func regexFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "regex", Aliases: []string{"r"}, EnvVars: envVars("regex"),
			Usage: "the TOPIC arguments are regular expressions matched against whole topic names (internal topics only when named literally); the matches at start are read, and when following (no -e), in a group too, new matching topics within 10 s"},
	}
}

// checkTopicExpr checks a topic argument: a name, or with -r an expression.
func checkTopicExpr(t string, regex bool) error {
	if !regex {
		return checkTopicName(t)
	}
	if _, err := kafkainfo.Match(t); err != nil {
		return usagef("-r: topic expression %q: %v", t, err)
	}
	return nil
}

// matchTopics lists the topics that exprs match. An expression that
// matches nothing is an error, unless the run follows with no stop
// condition: then it waits for one, saying so.
func matchTopics(ctx context.Context, client sarama.Client, exprs []string, following bool, warn func(string)) ([]string, error) {
	said := false
	for {
		all, err := kafkainfo.Topics(ctx, client, nil, kafkainfo.Options{})
		if err != nil {
			return nil, err
		}
		sel, err := kafkainfo.Select(all, exprs, false)
		var nm *kafkainfo.NoMatchError
		switch {
		case err == nil:
			names := make([]string, len(sel))
			for i, t := range sel {
				names[i] = t.Topic
			}
			return names, nil
		case !errors.As(err, &nm):
			return nil, err
		case !following:
			return nil, withHint(err, "-r matches whole names: 'orders.*', not 'orders'; 'streamctl topics' lists them")
		case !said:
			warn(fmt.Sprintf("no topic matches %q yet; waiting for one", nm.Expr))
			said = true
		}
		t := time.NewTimer(time.Second)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
		_ = client.RefreshMetadata()
	}
}

// discoverEvery is how often a following -r run looks for new topics:
// within 10 s, as promised, with room for the lookup itself.
var discoverEvery = 5 * time.Second

// discoverTopics lists the topics exprs match now; an expression that
// matches nothing (a topic deleted) is not an error here.
func discoverTopics(ctx context.Context, client sarama.Client, exprs []string) ([]string, error) {
	all, err := kafkainfo.Topics(ctx, client, nil, kafkainfo.Options{GiveUp: 5 * time.Second})
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range exprs {
		sel, err := kafkainfo.Select(all, []string{e}, false)
		if err != nil {
			continue
		}
		for _, t := range sel {
			names = append(names, t.Topic)
		}
	}
	return names, nil
}
