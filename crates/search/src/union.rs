//! The fields one word may match in, as a union that an intersection can seek cheaply.
//!
//! tantivy's own scored union (`BufferedUnionScorer`) fills a window of 4,096 documents,
//! scoring every one of them, each time it is sought beyond that window: inside the
//! intersection of a query's words, where the rarest word leads and the others are sought
//! to its documents, most of that work is thrown away (measured: a third of the time of a
//! million-item search in that refill). This union seeks each of its few clauses to the
//! target (their skip lists make that cheap) and scores a document only when asked: the sum
//! of the scores of the clauses on it, as tantivy's union with a summing combiner.

use tantivy::query::{EmptyScorer, EnableScoring, Explanation, Query, Scorer, Weight};
use tantivy::{DocId, DocSet, Score, SegmentReader, TERMINATED, Term};

/// Matches what any of `clauses` matches; scores the sum of the clauses that match.
#[derive(Debug)]
pub(crate) struct SumUnion {
    clauses: Vec<Box<dyn Query>>,
}

impl SumUnion {
    pub(crate) fn new(clauses: Vec<Box<dyn Query>>) -> Self {
        SumUnion { clauses }
    }
}

impl Clone for SumUnion {
    fn clone(&self) -> Self {
        SumUnion {
            clauses: self.clauses.iter().map(|c| c.box_clone()).collect(),
        }
    }
}

impl Query for SumUnion {
    fn weight(&self, enable_scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        let weights = self
            .clauses
            .iter()
            .map(|c| c.weight(enable_scoring))
            .collect::<tantivy::Result<_>>()?;
        Ok(Box::new(SumUnionWeight { weights }))
    }

    fn query_terms<'a>(&'a self, visitor: &mut dyn FnMut(&'a Term, bool)) {
        for c in &self.clauses {
            c.query_terms(visitor);
        }
    }
}

struct SumUnionWeight {
    weights: Vec<Box<dyn Weight>>,
}

impl Weight for SumUnionWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        let mut scorers = Vec::with_capacity(self.weights.len());
        for w in &self.weights {
            let s = w.scorer(reader, boost)?;
            if s.doc() != TERMINATED {
                scorers.push(s);
            }
        }
        Ok(match scorers.len() {
            0 => Box::new(EmptyScorer),
            1 => scorers.remove(0),
            _ => {
                let doc = scorers.iter().map(|s| s.doc()).min().unwrap_or(TERMINATED);
                Box::new(SumUnionScorer { scorers, doc })
            }
        })
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        let mut scorer = self.scorer(reader, 1.0)?;
        if scorer.doc() > doc || scorer.seek(doc) != doc {
            return Err(tantivy::TantivyError::InvalidArgument(format!(
                "document {doc} does not match"
            )));
        }
        let mut explanation = Explanation::new("sum of the matching fields", scorer.score());
        for w in &self.weights {
            if let Ok(e) = w.explain(reader, doc) {
                explanation.add_detail(e);
            }
        }
        Ok(explanation)
    }
}

struct SumUnionScorer {
    /// Never empty; each positioned at or after `doc`.
    scorers: Vec<Box<dyn Scorer>>,
    doc: DocId,
}

impl SumUnionScorer {
    fn settle(&mut self) -> DocId {
        self.doc = self
            .scorers
            .iter()
            .map(|s| s.doc())
            .min()
            .unwrap_or(TERMINATED);
        self.doc
    }
}

impl DocSet for SumUnionScorer {
    fn advance(&mut self) -> DocId {
        if self.doc == TERMINATED {
            return TERMINATED;
        }
        let doc = self.doc;
        for s in &mut self.scorers {
            if s.doc() == doc {
                s.advance();
            }
        }
        self.settle()
    }

    fn seek(&mut self, target: DocId) -> DocId {
        if self.doc >= target {
            return self.doc;
        }
        for s in &mut self.scorers {
            if s.doc() < target {
                s.seek(target);
            }
        }
        self.settle()
    }

    fn doc(&self) -> DocId {
        self.doc
    }

    fn size_hint(&self) -> u32 {
        self.scorers
            .iter()
            .map(|s| s.size_hint())
            .max()
            .unwrap_or(0)
    }

    fn cost(&self) -> u64 {
        self.scorers.iter().map(|s| s.cost()).sum()
    }
}

impl Scorer for SumUnionScorer {
    fn score(&mut self) -> Score {
        let doc = self.doc;
        self.scorers
            .iter_mut()
            .filter(|s| s.doc() == doc)
            .map(|s| s.score())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use tantivy::collector::{Count, TopDocs};
    use tantivy::query::{BooleanQuery, Occur, TermQuery};
    use tantivy::schema::{IndexRecordOption, Schema, TEXT};
    use tantivy::{Index, doc};

    use super::*;

    /// Same matches and scores as tantivy's union, alone and inside an intersection.
    #[test]
    fn matches_and_scores_as_tantivys_union() {
        let mut schema = Schema::builder();
        let a = schema.add_text_field("a", TEXT);
        let b = schema.add_text_field("b", TEXT);
        let index = Index::create_in_ram(schema.build());
        let mut writer = index.writer_for_tests().unwrap();
        for n in 0..3000u32 {
            let pick = |k: u32, w: &str| if n % k == 0 { w } else { "autre" };
            writer
                .add_document(doc!(
                    a => format!("{} {} mot", pick(3, "x"), pick(7, "y")),
                    b => format!("{} {} {}", pick(5, "x"), pick(11, "y"), pick(2, "x")),
                ))
                .unwrap();
        }
        writer.commit().unwrap();
        let searcher = index.reader().unwrap().searcher();
        let term = |f, w: &str| -> Box<dyn Query> {
            Box::new(TermQuery::new(
                Term::from_field_text(f, w),
                IndexRecordOption::WithFreqs,
            ))
        };
        let word = |w: &str| vec![term(a, w), term(b, w)];
        let ours: Box<dyn Query> = Box::new(BooleanQuery::new(vec![
            (
                Occur::Must,
                Box::new(SumUnion::new(word("x"))) as Box<dyn Query>,
            ),
            (Occur::Must, Box::new(SumUnion::new(word("y")))),
        ]));
        let theirs: Box<dyn Query> = Box::new(BooleanQuery::new(vec![
            (
                Occur::Must,
                Box::new(BooleanQuery::union(word("x"))) as Box<dyn Query>,
            ),
            (Occur::Must, Box::new(BooleanQuery::union(word("y")))),
        ]));
        for (ours, theirs) in [
            (ours, theirs),
            (
                Box::new(SumUnion::new(word("y"))) as Box<dyn Query>,
                Box::new(BooleanQuery::union(word("y"))) as Box<dyn Query>,
            ),
        ] {
            let count = searcher.search(&*ours, &Count).unwrap();
            assert!(count > 0);
            assert_eq!(count, searcher.search(&*theirs, &Count).unwrap());
            let top = TopDocs::with_limit(5000).order_by_score();
            let mut got = searcher.search(&*ours, &top).unwrap();
            let mut want = searcher.search(&*theirs, &top).unwrap();
            got.sort_by_key(|(_, d)| *d);
            want.sort_by_key(|(_, d)| *d);
            assert_eq!(got.len(), want.len());
            for ((s1, d1), (s2, d2)) in got.iter().zip(&want) {
                assert_eq!(d1, d2);
                assert!((s1 - s2).abs() < 1e-5, "{s1} vs {s2}");
            }
        }
    }
}
