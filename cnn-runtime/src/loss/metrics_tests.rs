//! The metrics on cases worked out by hand (the sums are in the comments).

use super::metrics::*;
use crate::error::Error;

#[test]
fn accuracy_takes_the_first_largest() {
    // Rows: argmax 1 (right), a tie of 0 and 2 that goes to 0 (right),
    // argmax 2 against label 1 (wrong): 2 of 3.
    let output = [0.0, 5.0, 1.0, 3.0, 1.0, 3.0, 0.0, 0.1, 0.2];
    assert_eq!(accuracy(&output, 3, &[1, 0, 1]).unwrap(), 2.0 / 3.0);
    assert_eq!(accuracy(&output, 3, &[1, 0, 2]).unwrap(), 1.0);
}

#[test]
fn mean_iou_by_hand() {
    // Predicted 0 0 1 2 2 2 against labels 0 1 1 1 2 2:
    // class 0: both 1, either 2 -> 1/2; class 1: both 1, either 3 -> 1/3;
    // class 2: both 2, either 3 -> 2/3. Mean 1/2.
    let pred = [0, 0, 1, 2, 2, 2];
    let labels = [0, 1, 1, 1, 2, 2];
    for classes in [3, 4] {
        let mut output = vec![0.0; 6 * classes];
        for (p, row) in pred.iter().zip(output.chunks_exact_mut(classes)) {
            row[*p] = 1.0;
        }
        // A fourth class in neither the prediction nor the labels is left
        // out rather than counted as 0.
        let miou = mean_iou(&output, classes, &labels).unwrap();
        assert!((miou - 0.5).abs() < 1e-6, "{classes} classes: {miou}");
        // Positions 0, 2, 4 and 5 right: 4 of 6.
        assert_eq!(accuracy(&output, classes, &labels).unwrap(), 4.0 / 6.0);
    }
    // All right: 1.
    assert_eq!(mean_iou(&[1.0, 0.0, 0.0, 1.0], 2, &[0, 1]).unwrap(), 1.0);
}

#[test]
fn mean_absolute_error_by_hand() {
    // |1 - 0| + |-2 - 1| + |0.5 - 0.5| + |4 - 2| = 6, over 4.
    let mae = mean_absolute_error(&[1.0, -2.0, 0.5, 4.0], &[0.0, 1.0, 0.5, 2.0]).unwrap();
    assert_eq!(mae, 1.5);
}

#[test]
fn box_iou_by_hand() {
    let a = [1.0, 1.0, 2.0, 2.0]; // x and y in [0, 2]
    assert_eq!(box_iou(a, a), 1.0);
    // x and y in [1, 3]: a 1x1 overlap, union 4 + 4 - 1.
    let b = [2.0, 2.0, 2.0, 2.0];
    assert!((box_iou(a, b) - 1.0 / 7.0).abs() < 1e-6);
    assert_eq!(box_iou(a, b), box_iou(b, a));
    // Inside: a 1x1 box in the 2x2 one, 1/4.
    assert_eq!(box_iou(a, [1.0, 1.0, 1.0, 1.0]), 0.25);
    // Apart, or no area at all: 0.
    assert_eq!(box_iou(a, [5.0, 5.0, 1.0, 1.0]), 0.0);
    assert_eq!(box_iou([0.0; 4], [0.0; 4]), 0.0);
    // Height is the third number, width the fourth: [0, 0, 2, 4] spans
    // x in [-2, 2], y in [-1, 1]; [1.5, 0, 2, 1] spans x in [1, 2],
    // y in [-1, 1]. Overlap 1x2, union 8 + 2 - 2.
    assert_eq!(box_iou([0.0, 0.0, 2.0, 4.0], [1.5, 0.0, 2.0, 1.0]), 0.25);
}

#[test]
fn localization_metrics_by_hand() {
    #[rustfmt::skip]
    let output = [
        2.0, 0.5, 0.5, 1.0, 1.0, 1.0, 0.0,   // object, same box, class 0: all right
        -1.0, 0.5, 0.5, 0.5, 0.5, 2.0, 1.0,  // says no object, box IoU 1/4, class 0: wrong
        -3.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,  // no object: right
        0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,   // s(0) = 0.5 counts as an object: wrong
    ];
    #[rustfmt::skip]
    let target = [
        1.0, 0.5, 0.5, 1.0, 1.0, 1.0, 0.0,
        1.0, 0.5, 0.5, 1.0, 1.0, 0.0, 1.0,
        0.0, 9.0, 9.0, 9.0, 9.0, 9.0, 9.0,
        0.0, 9.0, 9.0, 9.0, 9.0, 9.0, 9.0,
    ];
    let m = localization(&output, 7, &target).unwrap();
    assert_eq!(
        m,
        LocalizationMetrics {
            rows: 4,
            objects: 2,
            presence_accuracy: 0.5,
            class_accuracy: 0.5,
            mean_iou: (1.0 + 0.25) / 2.0,
            iou_at_least_half: 0.5,
        }
    );
    // No object in the batch: the per-object figures are NaN.
    let m = localization(&output[14..], 7, &target[14..]).unwrap();
    assert_eq!((m.rows, m.objects, m.presence_accuracy), (2, 0, 0.5));
    assert!(m.class_accuracy.is_nan() && m.mean_iou.is_nan() && m.iou_at_least_half.is_nan());
}

#[test]
fn metric_errors() {
    assert!(matches!(
        accuracy(&[0.0; 6], 3, &[0, 3]),
        Err(Error::LabelOutOfRange {
            index: 1,
            label: 3,
            classes: 3
        })
    ));
    assert!(accuracy(&[0.0; 6], 3, &[0]).is_err());
    assert!(accuracy(&[], 0, &[]).is_err());
    assert!(mean_iou(&[0.0; 5], 3, &[0, 1]).is_err());
    assert!(mean_iou(&[0.0; 6], 3, &[0, 7]).is_err());
    assert!(mean_absolute_error(&[0.0; 3], &[0.0; 2]).is_err());
    assert!(mean_absolute_error(&[], &[]).is_err());
    assert!(localization(&[0.0; 10], 5, &[0.0; 10]).is_err());
    assert!(localization(&[0.0; 13], 7, &[0.0; 13]).is_err());
    assert!(localization(&[0.0; 14], 7, &[0.0; 7]).is_err());
    assert!(localization(&[], 7, &[]).is_err());
}
